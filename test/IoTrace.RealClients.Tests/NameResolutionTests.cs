using IoTrace.RealClients.Tests.TestSupport;
using Xunit;

namespace IoTrace.RealClients.Tests;

/// <summary>Name resolution (Dns.GetHostAddresses of localhost, synchronous and asynchronous), made inside glibc.</summary>
public sealed class NameResolutionTests
{
    [Fact]
    public async Task Resolve_Ebpf_SeesGlibcsFileReadsAsStraceDoes()
    {
        var run = await HostRun.StartAsync("ebpf", "resolve", "localhost");

        Assert.Equal("DONE ebpf True", run.Done);
        var straced = HostRun.Totals(run.StracedUnder("/etc"));
        Assert.Contains(straced, static t => t.StartsWith("openat ", StringComparison.Ordinal));
        Assert.Equal(straced, HostRun.Totals(run.ReportedUnder("/etc")));
    }

    /// <summary>
    /// glibc reads /etc inside getaddrinfo, through functions of its own without frame pointers: the walk steps through
    /// them to the app's line. The asynchronous resolution makes the same calls from a pool thread with Dns's frames and
    /// none of the app's on its stack: they take the line that started it, from Dns's events.
    /// </summary>
    [Fact]
    public async Task Resolve_Ebpf_EachResolutionsReadsOnItsLine()
    {
        var run = await HostRun.StartAsync("ebpf", "resolve", "localhost");

        // strace by thread: the synchronous resolution's calls on the host's main thread, the other's on a pool thread.
        var straced = run.StracedUnder("/etc");
        var main = straced[0].Pid;
        var rows = run.ReportedUnder("/etc").ToList();
        var line = HostRun.LineOf("// the resolution");
        var asyncLine = HostRun.LineOf("// the async resolution");
        Assert.All(rows, r => Assert.True(r.Line == line || r.Line == asyncLine, $"{r.Probe} {r.Target} on line {r.Line}"));
        Assert.Contains(HostRun.Totals(rows.Where(r => r.Line == asyncLine)), static t => t.StartsWith("openat ", StringComparison.Ordinal));
        Assert.Equal(HostRun.Totals(straced.Where(c => c.Pid == main)), HostRun.Totals(rows.Where(r => r.Line == line)));
        Assert.Equal(HostRun.Totals(straced.Where(c => c.Pid != main)), HostRun.Totals(rows.Where(r => r.Line == asyncLine)));
    }

    [Fact]
    public async Task Resolve_InProcess_OneGetaddrinfoPerResolutionWhereStraceSeesGlibcsReads()
    {
        var run = await HostRun.StartAsync("inprocess", "resolve", "localhost");

        Assert.Equal("DONE inprocess True", run.Done);
        // glibc reads /etc/hosts and its configuration inside getaddrinfo, out of the hooks' reach: the call stands for it.
        Assert.Contains(HostRun.Totals(run.StracedUnder("/etc")), static t => t.StartsWith("openat ", StringComparison.Ordinal));
        Assert.Empty(run.ReportedUnder("/etc"));
        // The asynchronous one runs on a pool thread with Dns's frames and none of the app's: its line is from Dns's events.
        var resolutions = run.Rows.Where(static r => r.Probe == "getaddrinfo").OrderBy(static r => r.Line).ToList();
        Assert.Equal(
            [((int?)HostRun.LineOf("// the resolution"), 1L, "localhost"), (HostRun.LineOf("// the async resolution"), 1L, "localhost")],
            resolutions.Select(static r => (r.Line, r.Calls, r.Target)));
    }
}
