using System.Globalization;
using IoTrace.Tests.Shared;

namespace IoTrace.Tests.TestSupport;

/// <summary>
/// Runs the IoTrace.Tests.Target child under <c>strace -f -y</c> and reads back both sides: what the child's own
/// trace reported, and the calls strace saw on the same path (by name, or through an fd it decodes) in the same process.
/// </summary>
internal static class Strace
{
    public static async Task<(IReadOnlyList<ReportedAggregate> Report, IReadOnlyDictionary<string, (long Calls, long Bytes)> Strace, string[] StraceLines)> RunAsync(string mode, string path, string syscalls = StraceLog.IoClasses)
    {
        var (stdout, lines) = await StraceLog.RunAsync(syscalls, Path.Combine(AppContext.BaseDirectory, "IoTrace.Tests.Target.dll"), mode, path);
        var report = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t'))
            .Select(f => new ReportedAggregate(f[0], f[1], f[2], f[3], long.Parse(f[4], CultureInfo.InvariantCulture), long.Parse(f[5], CultureInfo.InvariantCulture)))
            .ToList();
        return (report, Parse(lines, path), lines);
    }

    /// <summary>
    /// Per syscall on <paramref name="path"/> (a file, or an fd as strace -y names it: <c>pipe:[1234]</c>): calls, and the
    /// bytes of those that move bytes. Interrupted calls (<c>= ? ERESTARTSYS</c>) have no result and do not count.
    /// </summary>
    public static Dictionary<string, (long Calls, long Bytes)> Parse(IEnumerable<string> lines, string path) =>
        StraceLog.Totals(StraceLog.Calls(lines).Where(c => c.Text.Contains($"<{path}>", StringComparison.Ordinal) || c.Text.Contains($"\"{path}\"", StringComparison.Ordinal)));

    internal sealed record ReportedAggregate(string Probe, string Target, string File, string Line, long Calls, long Bytes);
}
