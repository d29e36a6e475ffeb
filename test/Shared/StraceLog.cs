using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using IoTrace.Probes;
using Xunit;

namespace IoTrace.Tests.Shared;

/// <summary>One system call as <c>strace -f -y</c> printed it: its thread, name, result (none if interrupted) and whole text.</summary>
internal sealed record StracedCall(string Pid, string Name, long? Result, string Text)
{
    /// <summary>The bytes the call moved, for a probe that moves bytes (the catalog's), as the report counts them.</summary>
    public long Bytes => Result > 0 && ProbeCatalog.TryIndexOf(Name, out var probe) && ProbeCatalog.Has(probe, ProbeTraits.MovesBytes) ? Result.Value : 0;
}

/// <summary>Runs a .NET program under strace, and reads strace's log back as calls: the oracle of the backends' tests.</summary>
internal static partial class StraceLog
{
    /// <summary>Every class of system call that can touch a file or a socket.</summary>
    public const string IoClasses = "%file,%desc,%network";

    /// <summary>strace's own default: the characters of a call's strings it prints.</summary>
    public const int StringLimit = 32;

    /// <summary>
    /// Runs <c>dotnet <paramref name="program"/> <paramref name="arguments"/></c> under <c>strace -f -qq -y</c>, tracing
    /// <paramref name="syscalls"/>; fails the test if it exits non-zero. Returns what it printed and strace's log.
    /// </summary>
    public static Task<(string Stdout, string[] Log)> RunAsync(string syscalls, string program, params string[] arguments) =>
        RunAsync(syscalls, socketPeers: false, program, arguments);

    /// <summary>
    /// As <see cref="RunAsync(string, string, string[])"/>; with <paramref name="socketPeers"/>, strace names a TCP socket
    /// by its addresses once connected (<c>-yy</c>: <c>TCP:[127.0.0.1:40112-&gt;127.0.0.1:5432]</c>, before that <c>TCP:[inode]</c>).
    /// </summary>
    public static Task<(string Stdout, string[] Log)> RunAsync(string syscalls, bool socketPeers, string program, params string[] arguments) =>
        RunAsync(syscalls, socketPeers, StringLimit, program, arguments);

    /// <summary>
    /// As <see cref="RunAsync(string, bool, string, string[])"/>, printing up to <paramref name="stringLimit"/> characters
    /// of each call's strings (<c>-s</c>): what a client batched into one write.
    /// </summary>
    public static async Task<(string Stdout, string[] Log)> RunAsync(string syscalls, bool socketPeers, int stringLimit, string program, params string[] arguments)
    {
        Requires.Strace();
        var log = Path.Combine(Path.GetTempPath(), $"iotrace-strace-{Guid.NewGuid():N}.txt");
        var start = new ProcessStartInfo("strace") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["-f", "-qq", socketPeers ? "-yy" : "-y", "-s", $"{stringLimit}", "-o", log, "-e", $"trace={syscalls}", "-e", "signal=none", DotnetHost.Path, program, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"{Path.GetFileName(program)} exited {process.ExitCode}: {await stderr}");
            return (await stdout, await File.ReadAllLinesAsync(log, TestContext.Current.CancellationToken));
        }
        finally
        {
            File.Delete(log);
        }
    }

    /// <summary>
    /// The calls in strace's log, in order. A call split by another thread's output (<c>pread64(3&lt;/tmp/f&gt;, &lt;unfinished ...&gt;</c>,
    /// then <c>&lt;... pread64 resumed&gt;...) = 4096</c>) is one call, with the text of both parts.
    /// </summary>
    public static List<StracedCall> Calls(IEnumerable<string> log)
    {
        var calls = new List<StracedCall>();
        var unfinished = new Dictionary<string, string>();
        foreach (var line in log)
        {
            var call = Call().Match(line);
            if (!call.Success)
            {
                continue;
            }

            var pid = call.Groups["pid"].Value;
            if (call.Groups["unfinished"].Success)
            {
                unfinished[pid] = line;
                continue;
            }

            var text = call.Groups["resumed"].Success && unfinished.Remove(pid, out var start) ? start + line : line;
            long? result = call.Groups["result"].Success ? long.Parse(call.Groups["result"].Value, CultureInfo.InvariantCulture) : null;
            calls.Add(new StracedCall(pid, call.Groups["name"].Value, result, text));
        }

        return calls;
    }

    /// <summary>Calls and bytes per system call, of the calls that returned (an interrupted call is restarted, and counted then).</summary>
    public static Dictionary<string, (long Calls, long Bytes)> Totals(IEnumerable<StracedCall> calls) =>
        calls.Where(static c => c.Result is not null)
            .GroupBy(static c => c.Name)
            .ToDictionary(static g => g.Key, static g => ((long)g.Count(), g.Sum(static c => c.Bytes)));

    /// <summary>strace's calls as <c>"probe calls bytes"</c>, one per system call, sorted: an assertion's failure shows the difference.</summary>
    public static List<string> Lines(IEnumerable<StracedCall> calls) =>
        Lines(Totals(calls).Select(static t => (t.Key, t.Value.Calls, t.Value.Bytes)));

    /// <summary>Totals (strace's, or a report's per probe) in the shape of <see cref="Lines(IEnumerable{StracedCall})"/>.</summary>
    public static List<string> Lines(IEnumerable<(string Probe, long Calls, long Bytes)> totals) =>
        [.. totals.Select(static t => $"{t.Probe} {t.Calls} {t.Bytes}").Order(StringComparer.Ordinal)];

    /// <summary>Whether the call names a path under <paramref name="folder"/>, or is made on an fd strace names by one.</summary>
    public static bool NamesPathUnder(StracedCall call, string folder) =>
        call.Text.Contains($"\"{folder}", StringComparison.Ordinal) || call.Text.Contains($"<{folder}", StringComparison.Ordinal);

    [GeneratedRegex(@"^(?<pid>\d+)\s+(?:(?<resumed><\.\.\. )(?<name>\w+) resumed>|(?<name>\w+)\()(?:.*<(?<unfinished>unfinished) \.\.\.>$|.*\)\s+=\s+(?<result>-?\d+))?")]
    private static partial Regex Call();
}
