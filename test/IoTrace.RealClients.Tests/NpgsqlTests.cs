using IoTrace.RealClients.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.RealClients.Tests;

/// <summary>PostgreSQL through Npgsql: the calls on the server's socket, as strace saw them, and their lines.</summary>
public sealed class NpgsqlTests(PostgresServer postgres)
{
    /// <summary>
    /// Not in any report, on purpose: the runtime registering the socket with its epoll (epoll_ctl: not IO, not a probe),
    /// and the tracer's own getpeername naming the socket (its IO is never charged).
    /// </summary>
    private static readonly string[] s_notCharged = ["epoll_ctl", "getpeername"];

    /// <summary>
    /// The in-process backend's check, once per pooled socket while traces run, that the socket is a stream socket
    /// before it remembers the peer (getsockopt SO_TYPE): the tracer's own, never charged.
    /// </summary>
    private static bool IsTracersTypeCheck(StracedCall call) => call.Name == "getsockopt" && call.Text.Contains("SO_TYPE", StringComparison.Ordinal);

    [Theory]
    [InlineData("inprocess")]
    [InlineData("ebpf")]
    public async Task ColdConnection_CallsOnTheServersSocket_MatchStrace(string backend)
    {
        await postgres.RequireAsync();

        var run = await HostRun.StartAsync(backend, "npgsql-cold", postgres.ConnectionString);

        Assert.Equal($"DONE {backend} True", run.Done);
        var straced = run.StracedOnPeer(postgres.Port);
        var reported = run.ReportedOnPeer(postgres.Port).ToList();
        // The connect completes on the runtime's socket thread (poll, then getsockopt SO_ERROR): charged all the same.
        Assert.Contains("poll 1 0", HostRun.Totals(reported));
        Assert.Equal(HostRun.Totals(straced.Where(static c => !s_notCharged.Contains(c.Name))), HostRun.Totals(reported));
        // The tracer names the socket once at most: in process when it opens, under eBPF when a flush charges calls made
        // on it before its close (whether one does depends on where the flush falls).
        var notCharged = HostRun.Totals(straced.Where(static c => s_notCharged.Contains(c.Name)));
        Assert.Contains(notCharged, static t => t == "epoll_ctl 1 0");
        Assert.All(notCharged, static t => Assert.Contains(t, (string[])["epoll_ctl 1 0", "getpeername 1 0"]));
        Assert.DoesNotContain(reported, static r => r.Probe == "getpeername");
        // Npgsql's own methods are a package's, never the app's line: every call is on the open's or the query's, on both
        // backends (under eBPF the app's frame is 30 to 40 frames below the system call).
        Assert.All(reported, static r => Assert.Contains(r.Line, new int?[] { HostRun.LineOf("// the cold open"), HostRun.LineOf("// the cold query") }));
    }

    [Theory]
    [InlineData("inprocess")]
    [InlineData("ebpf")]
    public async Task PooledConnection_CallsOnTheServersSocket_MatchStrace(string backend)
    {
        await postgres.RequireAsync();

        var run = await HostRun.StartAsync(backend, "npgsql-pooled", postgres.ConnectionString);

        Assert.Equal($"DONE {backend} True", run.Done);
        var straced = run.StracedOnPeer(postgres.Port);
        var reported = run.ReportedOnPeer(postgres.Port).ToList();
        // The query, one sendto, and its answer (recvfrom until the whole answer is in: more than one where the first would block).
        Assert.Equal(["recvfrom", "sendto"], reported.Select(static r => r.Probe).Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(HostRun.Totals(straced.Where(static c => !s_notCharged.Contains(c.Name) && !IsTracersTypeCheck(c))), HostRun.Totals(reported));
        // The pooled socket is still open when the trace stops: the tracer names it with a getpeername of its own (and
        // in process checks its type once, to remember its peer).
        Assert.Equal(["getpeername 1 0"], HostRun.Totals(straced.Where(static c => s_notCharged.Contains(c.Name))));
        Assert.Equal(backend == "inprocess" ? 1 : 0, straced.Count(IsTracersTypeCheck));
        // The answer's read retried on the runtime's thread has no app frame: in process it inherits the line that waited,
        // under eBPF it takes the one line that used the socket in the trace.
        Assert.All(reported, static r => Assert.Equal(HostRun.LineOf("// the pooled query"), r.Line));
    }
}
