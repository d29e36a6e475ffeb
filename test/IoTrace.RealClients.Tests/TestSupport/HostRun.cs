using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.RealClients.Tests.TestSupport;

/// <summary>A report's row as the host printed it.</summary>
internal sealed record HostRow(string Probe, string File, int? Line, long Calls, long Bytes, string Target);

/// <summary>
/// One run of IoTrace.RealClients.Host under strace: the report's rows, and strace's calls between the host's two markers
/// (the traced workload's window; other threads' calls in it too, which the filters below leave out).
/// </summary>
internal sealed partial class HostRun(List<HostRow> rows, string done, List<StracedCall> window)
{
    private const string SharedFile = "(shared)";

    /// <summary>The request's own rows.</summary>
    public List<HostRow> Rows { get; } = [.. rows.Where(static r => r.File != SharedFile)];

    /// <summary>The rows of the shared connections the request used (<see cref="IoTraceReport.SharedAggregates"/>).</summary>
    public List<HostRow> Shared { get; } = [.. rows.Where(static r => r.File == SharedFile)];

    /// <summary>The host's last line: <c>DONE &lt;backend&gt; &lt;complete&gt;</c>.</summary>
    public string Done { get; } = done;

    /// <summary>strace's calls made while the workload ran.</summary>
    public List<StracedCall> Window { get; } = window;

    /// <summary>
    /// Runs the host's <paramref name="workload"/> on <paramref name="backend"/> under strace (every class of IO call,
    /// sockets named by their peers, <paramref name="stringLimit"/> characters of each string).
    /// </summary>
    public static async Task<HostRun> StartAsync(string backend, string workload, string argument, int stringLimit = StraceLog.StringLimit)
    {
        if (backend == "ebpf")
        {
            Requires.Ebpf();
        }
        else if (backend == "dtrace")
        {
            Requires.DTrace();
        }

        var (stdout, log) = await StraceLog.RunAsync(StraceLog.IoClasses, socketPeers: true, stringLimit, Path.Combine(AppContext.BaseDirectory, "IoTrace.RealClients.Host.dll"), backend, workload, argument);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length > 0 && lines[^1].StartsWith("DONE ", StringComparison.Ordinal), $"The host printed no report:\n{stdout}");
        var rows = lines[..^1].Select(static l => l.Split('\t')).Select(static f => new HostRow(
            f[0], f[1], f[2].Length == 0 ? null : int.Parse(f[2], CultureInfo.InvariantCulture),
            long.Parse(f[3], CultureInfo.InvariantCulture), long.Parse(f[4], CultureInfo.InvariantCulture), f[5])).ToList();

        var calls = StraceLog.Calls(log);
        var begin = calls.FindIndex(static c => c.Text.Contains("\"/iotrace-marker/begin\"", StringComparison.Ordinal));
        var end = calls.FindIndex(static c => c.Text.Contains("\"/iotrace-marker/end\"", StringComparison.Ordinal));
        Assert.True(begin >= 0 && end > begin, "strace's log has no markers around the workload");
        return new HostRun(rows, lines[^1], calls[(begin + 1)..end]);
    }

    /// <summary>
    /// strace's calls on a TCP socket to 127.0.0.1:<paramref name="port"/> (IPv4, or IPv6 dual mode as HttpClient's):
    /// once connected by its peer, before by its inode.
    /// </summary>
    public List<StracedCall> StracedOnPeer(int port)
    {
        var inodes = Window.Where(c => c.Name == "connect" && (c.Text.Contains($"sin_port=htons({port})", StringComparison.Ordinal) || c.Text.Contains($"sin6_port=htons({port})", StringComparison.Ordinal)))
            .Select(static c => SocketInode().Match(c.Text)).Where(static m => m.Success).Select(static m => m.Value).ToHashSet();
        return [.. Window.Where(c => c.Text.Contains($"->127.0.0.1:{port}]", StringComparison.Ordinal) || c.Text.Contains($"->[::ffff:127.0.0.1]:{port}]", StringComparison.Ordinal)
            || inodes.Any(i => c.Text.Contains(i, StringComparison.Ordinal)))];
    }

    /// <summary>What strace saw written to the TCP socket to 127.0.0.1:<paramref name="port"/>, every write's text in order.</summary>
    public string SentOnPeer(int port) =>
        string.Concat(StracedOnPeer(port).Where(static c => c.Name is "sendto" or "sendmsg" or "write").Select(static c => c.Text));

    /// <summary>strace's calls naming a path under <paramref name="folder"/>, or on an fd strace names by one.</summary>
    public List<StracedCall> StracedUnder(string folder) => [.. Window.Where(c => StraceLog.NamesPathUnder(c, folder))];

    public IEnumerable<HostRow> ReportedOnPeer(int port) => Rows.Where(r => r.Target == $"127.0.0.1:{port}");

    public IEnumerable<HostRow> ReportedUnder(string folder) => Rows.Where(r => r.Target == folder || r.Target.StartsWith(folder + "/", StringComparison.Ordinal));

    /// <summary>
    /// The report's shared rows are <paramref name="straced"/> (the connection's calls between the markers), call for
    /// call and byte for byte, all to <paramref name="peer"/>. After the last answer the client's reader reads again and
    /// finds nothing (EAGAIN), on its own thread, while the request's continuation ends the trace: that one read lands
    /// before or after the connection is unfollowed.
    /// </summary>
    public void AssertSharedAre(List<StracedCall> straced, string peer)
    {
        string[] allowed = straced is [.., { Name: "recvfrom", Result: < 0 }]
            ? [Joined(Totals(straced)), Joined(Totals(straced[..^1]))]
            : [Joined(Totals(straced))];
        Assert.Contains(Joined(Totals(Shared)), allowed);
        Assert.All(Shared, r => Assert.Equal(peer, r.Target));

        static string Joined(List<string> totals) => string.Join(", ", totals);
    }

    /// <summary>strace's calls as <c>"probe calls bytes"</c>, one per system call, sorted (<see cref="StraceLog.Lines(IEnumerable{StracedCall})"/>).</summary>
    public static List<string> Totals(IEnumerable<StracedCall> calls) => StraceLog.Lines(calls);

    /// <summary>A report's rows in the same shape.</summary>
    public static List<string> Totals(IEnumerable<HostRow> rows) =>
        StraceLog.Lines(rows.GroupBy(static r => r.Probe).Select(static g => (g.Key, g.Sum(static r => r.Calls), g.Sum(static r => r.Bytes))));

    /// <summary>The line of the host's Program.cs that holds <paramref name="comment"/>.</summary>
    public static int LineOf(string comment) =>
        SourceLines.Of(comment, Path.Combine(Path.GetDirectoryName(ThisFile())!, "..", "..", "IoTrace.RealClients.Host", "Program.cs"));

    private static string ThisFile([CallerFilePath] string file = "") => file;

    [GeneratedRegex(@"TCP(?:v6)?:\[\d+\]")]
    private static partial Regex SocketInode();
}
