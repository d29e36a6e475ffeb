using System.Collections.Concurrent;
using IoTrace.Formatting;

namespace IoTrace;

/// <summary>
/// The formatters by name: the built-ins (<c>default</c>, <c>time</c>, <c>calls</c>, <c>cpu</c>, <c>bytes</c>,
/// <c>fds</c>, <c>files</c>) and those registered with <see cref="Register"/>. Names are case-insensitive.
/// </summary>
public static class IoTraceFormatters
{
    /// <summary>The name of the default formatter.</summary>
    public const string DefaultName = "default";

    private static readonly string[] s_builtInNames = ["default", "time", "calls", "cpu", "wait", "bytes", "fds", "files"];

    private static readonly ConcurrentDictionary<string, IoTraceFormatter> s_formatters = new(StringComparer.OrdinalIgnoreCase)
    {
        ["default"] = BuiltInFormatters.Default,
        ["time"] = BuiltInFormatters.Time,
        ["calls"] = BuiltInFormatters.Calls,
        ["cpu"] = BuiltInFormatters.Cpu,
        ["wait"] = BuiltInFormatters.Wait,
        ["bytes"] = BuiltInFormatters.Bytes,
        ["fds"] = BuiltInFormatters.Fds,
        ["files"] = BuiltInFormatters.Files,
    };

    /// <summary>The names of the built-in formatters.</summary>
    public static IReadOnlyList<string> BuiltInNames => s_builtInNames;

    /// <summary>Every formatter name: the built-ins, then the registered ones in name order.</summary>
    public static IReadOnlyList<string> Names =>
        [.. s_builtInNames, .. s_formatters.Keys.Where(k => !s_builtInNames.Contains(k, StringComparer.OrdinalIgnoreCase)).Order(StringComparer.OrdinalIgnoreCase)];

    /// <summary>Registers (or replaces) a named formatter, so configuration can pick it by name.</summary>
    /// <param name="name">The name; built-in names cannot be replaced.</param>
    /// <param name="formatter">The formatter.</param>
    /// <exception cref="ArgumentException">The name is empty or a built-in's.</exception>
    public static void Register(string name, IoTraceFormatter formatter)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(formatter);
        if (s_builtInNames.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"'{name}' is a built-in formatter and cannot be replaced.", nameof(name));
        }

        s_formatters[name.Trim()] = formatter;
    }

    /// <summary>Looks a formatter up by name.</summary>
    /// <param name="name">The name.</param>
    /// <param name="formatter">The formatter, when found.</param>
    /// <returns>Whether it was found.</returns>
    public static bool TryGet(string? name, out IoTraceFormatter formatter)
    {
        formatter = null!;
        return !string.IsNullOrWhiteSpace(name) && s_formatters.TryGetValue(name.Trim(), out formatter!);
    }

    /// <summary>Gets a formatter by name.</summary>
    /// <param name="name">The name.</param>
    /// <returns>The formatter.</returns>
    /// <exception cref="ArgumentException">No formatter has that name; the message lists the allowed values.</exception>
    public static IoTraceFormatter Get(string name) => TryGet(name, out var formatter)
        ? formatter
        : throw new ArgumentException($"Unknown formatter '{name}'. Allowed values: {string.Join(", ", Names)}.", nameof(name));
}
