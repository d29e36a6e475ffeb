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

    [Fact]
    public async Task Resolve_InProcess_OneGetaddrinfoPerResolutionWhereStraceSeesGlibcsReads()
    {
        var run = await HostRun.StartAsync("inprocess", "resolve", "localhost");

        Assert.Equal("DONE inprocess True", run.Done);
        // glibc reads /etc/hosts and its configuration inside getaddrinfo, out of the hooks' reach: the call stands for it.
        Assert.Contains(HostRun.Totals(run.StracedUnder("/etc")), static t => t.StartsWith("openat ", StringComparison.Ordinal));
        Assert.Empty(run.ReportedUnder("/etc"));
        var resolutions = run.Rows.Where(static r => r.Probe == "getaddrinfo").ToList();
        Assert.Equal(2, resolutions.Sum(static r => r.Calls));
        Assert.All(resolutions, static r => Assert.Equal("localhost", r.Target));
        Assert.Contains(resolutions, static r => r.Line == HostRun.LineOf("// the resolution"));
    }
}
