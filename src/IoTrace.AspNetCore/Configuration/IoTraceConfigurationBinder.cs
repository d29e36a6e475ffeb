using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace IoTrace.AspNetCore.Configuration;

/// <summary>
/// Binds an <c>IoTrace</c> configuration section. Unlike the configuration binder it never throws: a value it cannot
/// use (an unknown strategy name, a typo in a key) is recorded, and the validator reports it with the key and the
/// allowed values. It also turns a formatter name into the formatter.
/// </summary>
internal static class IoTraceConfigurationBinder
{
    public static readonly string[] Keys =
    [
        nameof(IoTraceOptions.Enabled),
        nameof(IoTraceOptions.Strategy),
        nameof(IoTraceOptions.Formatter),
        nameof(IoTraceOptions.LogLevel),
        nameof(IoTraceOptions.Features),
        nameof(IoTraceOptions.Redaction),
        nameof(IoTraceOptions.IncludeRuntimeIo),
        nameof(IoTraceOptions.ServerTiming),
        nameof(IoTraceOptions.Backend),
        nameof(IoTraceOptions.IncludePaths),
        nameof(IoTraceOptions.ExcludePaths),
        nameof(IoTraceOptions.SkippedNamespaces),
        nameof(IoTraceOptions.MinimumCalls),
        nameof(IoTraceOptions.MinimumBytes),
        nameof(IoTraceOptions.CallBudget),
        nameof(IoTraceOptions.ByteBudget),
        nameof(IoTraceOptions.RepeatedOpenThreshold),
        nameof(IoTraceOptions.ChattyIoThreshold),
        nameof(IoTraceOptions.ChattyIoBytes),
        nameof(IoTraceOptions.RoundTripThreshold),
        nameof(IoTraceOptions.SamplingRatio),
    ];

    public const string FeatureSyntax = "a comma-separated list of Calls, Bytes, Time, Cpu, Wait; or All, or None (calls only)";

    public const string RatioSyntax = "a number from 0 to 1, such as 0.1 for one request in ten";

    public const string RedactionSyntax = "a comma-separated list of FilePaths, PeerAddresses; or All, or None";

    public static void Bind(IConfiguration section, IoTraceOptions options)
    {
        if (section is IConfigurationSection { Path: var path })
        {
            options.ConfigurationPath = path;
        }

        foreach (var child in section.GetChildren())
        {
            var key = Array.Find(Keys, k => string.Equals(k, child.Key, StringComparison.OrdinalIgnoreCase));
            switch (key)
            {
                case nameof(IoTraceOptions.Enabled):
                    BindBoolean(child, options, v => options.Enabled = v);
                    break;
                case nameof(IoTraceOptions.IncludeRuntimeIo):
                    BindBoolean(child, options, v => options.IncludeRuntimeIo = v);
                    break;
                case nameof(IoTraceOptions.ServerTiming):
                    BindBoolean(child, options, v => options.ServerTiming = v);
                    break;
                case nameof(IoTraceOptions.Strategy):
                    BindEnum<Strategy>(child, options, "a strategy", v => options.Strategy = v);
                    break;
                case nameof(IoTraceOptions.Formatter):
                    if (Scalar(child, options) is { } formatter)
                    {
                        if (IoTraceFormatters.TryGet(formatter, out var value))
                        {
                            options.Formatter = value;
                        }
                        else
                        {
                            options.ConfigurationErrors.Add(Invalid(child, formatter, "a formatter", IoTraceFormatters.Names));
                        }
                    }

                    break;
                case nameof(IoTraceOptions.LogLevel):
                    BindEnum<LogLevel>(child, options, "a log level", v => options.LogLevel = v);
                    break;
                case nameof(IoTraceOptions.Features):
                    if (Scalar(child, options) is { } features)
                    {
                        if (TryParseFlags<IoTraceFeatures>(features, out var value))
                        {
                            options.Features = value;
                        }
                        else
                        {
                            options.ConfigurationErrors.Add(Invalid(child, features, "a list of features", [FeatureSyntax]));
                        }
                    }

                    break;
                case nameof(IoTraceOptions.Redaction):
                    if (Scalar(child, options) is { } redaction)
                    {
                        if (TryParseFlags<IoTraceRedaction>(redaction, out var value))
                        {
                            options.Redaction = value;
                        }
                        else
                        {
                            options.ConfigurationErrors.Add(Invalid(child, redaction, "a list of things to redact", [RedactionSyntax]));
                        }
                    }

                    break;
                case nameof(IoTraceOptions.Backend):
                    BindEnum<IoTraceBackend>(child, options, "a backend", v => options.Backend = v);
                    break;
                case nameof(IoTraceOptions.IncludePaths):
                    BindList(child, options.IncludePaths);
                    break;
                case nameof(IoTraceOptions.ExcludePaths):
                    BindList(child, options.ExcludePaths);
                    break;
                case nameof(IoTraceOptions.SkippedNamespaces):
                    BindList(child, options.SkippedNamespaces);
                    break;
                case nameof(IoTraceOptions.MinimumCalls):
                    BindCount(child, options, v => options.MinimumCalls = v);
                    break;
                case nameof(IoTraceOptions.MinimumBytes):
                    BindCount(child, options, v => options.MinimumBytes = v);
                    break;
                case nameof(IoTraceOptions.CallBudget):
                    BindCount(child, options, v => options.CallBudget = v);
                    break;
                case nameof(IoTraceOptions.ByteBudget):
                    BindCount(child, options, v => options.ByteBudget = v);
                    break;
                case nameof(IoTraceOptions.RepeatedOpenThreshold):
                    BindCount(child, options, v => options.RepeatedOpenThreshold = Threshold(v));
                    break;
                case nameof(IoTraceOptions.ChattyIoThreshold):
                    BindCount(child, options, v => options.ChattyIoThreshold = Threshold(v));
                    break;
                case nameof(IoTraceOptions.ChattyIoBytes):
                    BindCount(child, options, v => options.ChattyIoBytes = Threshold(v));
                    break;
                case nameof(IoTraceOptions.RoundTripThreshold):
                    BindCount(child, options, v => options.RoundTripThreshold = Threshold(v));
                    break;
                case nameof(IoTraceOptions.SamplingRatio):
                    if (Scalar(child, options) is { } ratio)
                    {
                        if (double.TryParse(ratio, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out var value) && value <= 1)
                        {
                            options.SamplingRatio = value;
                        }
                        else
                        {
                            options.ConfigurationErrors.Add($"{child.Path}: '{ratio}' is not a ratio. Allowed values: {RatioSyntax}.");
                        }
                    }

                    break;
                default:
                    options.ConfigurationErrors.Add($"{child.Path}: '{child.Key}' is not an IoTrace setting. Allowed keys: {string.Join(", ", Keys)}.");
                    break;
            }
        }
    }

    /// <summary>Parses an enum value by name only, case-insensitively: numbers are not names.</summary>
    public static bool TryParseName<TEnum>(string? text, out TEnum value)
        where TEnum : struct, Enum
    {
        var name = Array.Find(Enum.GetNames<TEnum>(), n => string.Equals(n, text?.Trim(), StringComparison.OrdinalIgnoreCase));
        value = name is null ? default : Enum.Parse<TEnum>(name);
        return name is not null;
    }

    /// <summary>Parses a comma-separated list of flag names (<c>"Calls, Bytes"</c>), case-insensitively.</summary>
    public static bool TryParseFlags<TEnum>(string text, out TEnum flags)
        where TEnum : struct, Enum
    {
        ulong bits = 0;
        foreach (var name in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!TryParseName<TEnum>(name, out var flag))
            {
                flags = default;
                return false;
            }

            bits |= Convert.ToUInt64(flag, CultureInfo.InvariantCulture);
        }

        flags = (TEnum)Enum.ToObject(typeof(TEnum), bits);
        return true;
    }

    public static string Invalid(IConfigurationSection key, string value, string what, IEnumerable<string> allowed) =>
        $"{key.Path}: '{value}' is not {what}. Allowed values: {string.Join(", ", allowed)}.";

    private static void BindEnum<TEnum>(IConfigurationSection child, IoTraceOptions options, string what, Action<TEnum> set)
        where TEnum : struct, Enum
    {
        if (Scalar(child, options) is { } text)
        {
            if (TryParseName<TEnum>(text, out var value))
            {
                set(value);
            }
            else
            {
                options.ConfigurationErrors.Add(Invalid(child, text, what, Enum.GetNames<TEnum>()));
            }
        }
    }

    // Counts beyond int's range make no sense as thresholds: the largest stands for "never".
    private static int Threshold(long count) => (int)Math.Min(count, int.MaxValue);

    private static void BindBoolean(IConfigurationSection child, IoTraceOptions options, Action<bool> set)
    {
        if (Scalar(child, options) is { } text)
        {
            if (bool.TryParse(text, out var value))
            {
                set(value);
            }
            else
            {
                options.ConfigurationErrors.Add(Invalid(child, text, "a boolean", ["true", "false"]));
            }
        }
    }

    private static void BindCount(IConfigurationSection child, IoTraceOptions options, Action<long> set)
    {
        if (Scalar(child, options) is { } text)
        {
            if (long.TryParse(text, NumberStyles.None | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out var value))
            {
                set(value);
            }
            else
            {
                options.ConfigurationErrors.Add($"{child.Path}: '{text}' is not a count. Allowed values: 0 or a positive whole number.");
            }
        }
    }

    /// <summary>Adds the entries of an array section (<c>["/health"]</c>, <c>Key__0=/health</c>) or of a single value.</summary>
    private static void BindList(IConfigurationSection child, IList<string> list)
    {
        if (!string.IsNullOrEmpty(child.Value))
        {
            Add(list, child.Value);
        }

        foreach (var item in child.GetChildren())
        {
            if (item.Value is not null)
            {
                Add(list, item.Value);
            }
        }

        static void Add(IList<string> list, string value)
        {
            if (!list.Contains(value))
            {
                list.Add(value);
            }
        }
    }

    private static string? Scalar(IConfigurationSection child, IoTraceOptions options)
    {
        if (child.Value is null && child.GetChildren().Any())
        {
            options.ConfigurationErrors.Add($"{child.Path}: must be a single value, not a section.");
        }

        // An empty value (an empty environment variable, "") leaves the default in place.
        return string.IsNullOrWhiteSpace(child.Value) ? null : child.Value;
    }
}
