using IoTrace.RealClients.Tests.TestSupport;
using Xunit;

namespace IoTrace.RealClients.Tests;

/// <summary>
/// HttpClient over HTTP/2 (h2c to Kestrel): one connection multiplexes the requests of two traced flows. Its own loops
/// read and write for both, in the flow of the request that opened it: that IO is no request's, and each request shows
/// as an <c>http</c> row on its line instead, and the connection's IO while it used it as shared rows.
/// </summary>
public sealed class HttpClientTests
{
    private const int Size = 5_000;

    [Theory]
    [InlineData("inprocess")]
    [InlineData("ebpf")]
    [InlineData("dtrace")]
    public async Task Http2_TwoTracesOnOneConnection_EachShowsItsOwnRequestsAndNeitherTheConnectionsReadsAndWrites(string backend)
    {
        var run = await HostRun.StartAsync(backend, "http2", $"{Size}");

        Assert.Equal($"DONE {backend} True", run.Done);
        var first = run.Rows.Where(static r => r.Probe.StartsWith("first:", StringComparison.Ordinal)).Select(static r => r with { Probe = r.Probe["first:".Length..] }).ToList();
        var second = run.Rows.Where(static r => !r.Probe.StartsWith("first:", StringComparison.Ordinal)).ToList();
        var peer = Assert.Single(second).Target;
        Assert.Equal(("http", 1L, HostRun.LineOf("// the second request")), (second[0].Probe, second[0].Calls, second[0].Line ?? 0));
        Assert.Equal(
            [(HostRun.LineOf("// the first request"), 1L), (HostRun.LineOf("// the first's second request"), 1L)],
            first.Where(static r => r.Probe == "http").Select(static r => (r.Line ?? 0, r.Calls)).Order());
        Assert.All(first.Where(static r => r.Probe == "http"), r => Assert.Equal(peer, r.Target));

        // strace saw the connection read all three answers (their bodies and HTTP/2's frames): no report has them.
        var port = int.Parse(peer[(peer.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(run.StracedOnPeer(port).Where(static c => c.Name == "recvfrom").Sum(static c => c.Bytes) > 5 * Size);
        Assert.DoesNotContain(first, r => r.Target == peer && r.Probe is "recvfrom" or "sendto" or "read" or "write");
        if (backend == "inprocess")
        {
            // The request that opened the connection shows the opening, on its line.
            Assert.Contains(first, r => r.Probe == "connect" && r.Target == peer && r.Line == HostRun.LineOf("// the first request"));
        }

        // The connection's reads and writes are its shared rows instead. The first trace used the connection from its
        // opening to the end of the workload: its shared rows are strace's reads and writes on it, but for the control
        // frames the connection's loops may still exchange after the trace stopped (a settings or window
        // acknowledgement: a few calls of at most tens of bytes). The second used it for its one request (and whatever
        // the first did meanwhile, or under eBPF up to one flush before), which those include.
        var sharedFirst = run.Shared.Where(static r => r.Probe.StartsWith("first:", StringComparison.Ordinal)).Select(static r => r with { Probe = r.Probe["first:".Length..] }).ToList();
        var sharedSecond = run.Shared.Where(static r => !r.Probe.StartsWith("first:", StringComparison.Ordinal)).ToList();
        var straced = run.StracedOnPeer(port);
        Assert.Equal(["recvfrom", "sendto"], sharedFirst.Select(static r => r.Probe).Order(StringComparer.Ordinal));
        foreach (var probe in new[] { "recvfrom", "sendto" })
        {
            var (calls, bytes) = (straced.Count(c => c.Name == probe), straced.Where(c => c.Name == probe).Sum(static c => c.Bytes));
            var shared = Assert.Single(sharedFirst, r => r.Probe == probe);
            Assert.InRange(calls - shared.Calls, 0, 3);
            Assert.InRange(bytes - shared.Bytes, 0, 64);
        }

        Assert.DoesNotContain(straced, static c => c.Name is "read" or "write");
        Assert.All(sharedFirst.Concat(sharedSecond), r => Assert.Equal(peer, r.Target));
        Assert.InRange(sharedSecond.Where(static r => r.Probe == "recvfrom").Sum(static r => r.Bytes), 3 * Size, sharedFirst.Where(static r => r.Probe == "recvfrom").Sum(static r => r.Bytes));
    }

    /// <summary>
    /// Summary keeps no lines, so neither the loops' frames nor the requests' events can be seen: what keeps the
    /// connection's IO out of the opener's report is that a trace owns an fd for the one retry it waits for, not for
    /// the fd's life.
    /// </summary>
    [Theory]
    [InlineData("inprocess")]
    [InlineData("ebpf")]
    public async Task Http2_Summary_NoReportHasTheAnswers(string backend)
    {
        var run = await HostRun.StartAsync(backend, "http2-summary", $"{Size}");

        Assert.Equal($"DONE {backend} True", run.Done);
        var first = run.Rows.Where(static r => r.Probe.StartsWith("first:", StringComparison.Ordinal)).ToList();
        Assert.True(first.Where(static r => r.Probe == "first:recvfrom").Sum(static r => r.Bytes) < Size);
        Assert.DoesNotContain(run.Rows, static r => r.Probe is "recvfrom" or "sendto");
    }
}
