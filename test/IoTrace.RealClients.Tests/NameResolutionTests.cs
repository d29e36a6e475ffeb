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

        var asyncRows = AssertEachResolutionsReadsOnItsLine(run, "// the resolution", "// the async resolution");
        Assert.Contains(HostRun.Totals(asyncRows), static t => t.StartsWith("openat ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Resolve_InProcess_OneGetaddrinfoPerResolutionWhereStraceSeesGlibcsReads()
    {
        var run = await HostRun.StartAsync("inprocess", "resolve", "localhost");

        AssertInProcessLeftGlibcsReadsOut(run);
        // The asynchronous one runs on a pool thread with Dns's frames and none of the app's: its line is from Dns's events.
        var resolutions = run.Rows.Where(static r => r.Probe == "getaddrinfo").OrderBy(static r => r.Line).ToList();
        Assert.Equal(
            [((int?)HostRun.LineOf("// the resolution"), 1L, "localhost"), (HostRun.LineOf("// the async resolution"), 1L, "localhost")],
            resolutions.Select(static r => (r.Line, r.Calls, r.Target)));
    }

    /// <summary>
    /// A reverse resolution (Dns.GetHostEntry of an address) is glibc's getnameinfo, then its getaddrinfo of the name
    /// found: in process one call of each on the resolution's line, the first naming the address.
    /// </summary>
    [Fact]
    public async Task Reverse_InProcess_OneGetnameinfoAndOneGetaddrinfoPerResolution()
    {
        var run = await HostRun.StartAsync("inprocess", "reverse", "127.0.0.1");

        AssertInProcessLeftGlibcsReadsOut(run);
        var line = HostRun.LineOf("// the reverse resolution");
        var asyncLine = HostRun.LineOf("// the async reverse resolution");
        Assert.Equal(
            [("getnameinfo", (int?)line, 1L, "127.0.0.1"), ("getnameinfo", asyncLine, 1L, "127.0.0.1")],
            run.Rows.Where(static r => r.Probe == "getnameinfo").OrderBy(static r => r.Line).Select(static r => (r.Probe, r.Line, r.Calls, r.Target)));
        // The name it found (not the address: the hook passes getnameinfo's flags on), looked up again, on the same lines.
        var names = run.Rows.Where(static r => r.Probe == "getaddrinfo").OrderBy(static r => r.Line).ToList();
        Assert.Equal([((int?)line, 1L), (asyncLine, 1L)], names.Select(static r => (r.Line, r.Calls)));
        Assert.All(names, static r => Assert.NotEqual("127.0.0.1", r.Target));
    }

    /// <summary>Under eBPF, glibc's own reads of /etc inside both lookups, as strace sees them, each resolution's on its line.</summary>
    [Fact]
    public async Task Reverse_Ebpf_GlibcsReadsAsStraceSeesThemOnEachResolutionsLine()
    {
        var run = await HostRun.StartAsync("ebpf", "reverse", "127.0.0.1");

        Assert.Equal("DONE ebpf True", run.Done);
        Assert.Contains(HostRun.Totals(run.StracedUnder("/etc")), static t => t.StartsWith("openat ", StringComparison.Ordinal));
        _ = AssertEachResolutionsReadsOnItsLine(run, "// the reverse resolution", "// the async reverse resolution");
    }

    /// <summary>
    /// strace by thread: the synchronous resolution's calls on /etc are on the host's main thread, the asynchronous
    /// one's on a pool thread; the report has each set on its line, and no other line. Returns the asynchronous one's rows.
    /// </summary>
    private static List<HostRow> AssertEachResolutionsReadsOnItsLine(HostRun run, string syncComment, string asyncComment)
    {
        var straced = run.StracedUnder("/etc");
        var main = straced[0].Pid;
        var rows = run.ReportedUnder("/etc").ToList();
        var line = HostRun.LineOf(syncComment);
        var asyncLine = HostRun.LineOf(asyncComment);
        Assert.All(rows, r => Assert.True(r.Line == line || r.Line == asyncLine, $"{r.Probe} {r.Target} on line {r.Line}"));
        Assert.Equal(HostRun.Totals(straced.Where(c => c.Pid == main)), HostRun.Totals(rows.Where(r => r.Line == line)));
        Assert.Equal(HostRun.Totals(straced.Where(c => c.Pid != main)), HostRun.Totals(rows.Where(r => r.Line == asyncLine)));
        return [.. rows.Where(r => r.Line == asyncLine)];
    }

    /// <summary>
    /// In process: glibc reads /etc/hosts and its configuration inside the lookups, out of the hooks' reach (strace sees
    /// them, the report has none of them): the library call stands for them.
    /// </summary>
    private static void AssertInProcessLeftGlibcsReadsOut(HostRun run)
    {
        Assert.Equal("DONE inprocess True", run.Done);
        Assert.Contains(HostRun.Totals(run.StracedUnder("/etc")), static t => t.StartsWith("openat ", StringComparison.Ordinal));
        Assert.Empty(run.ReportedUnder("/etc"));
    }
}
