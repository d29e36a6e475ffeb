using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using System.Runtime.CompilerServices;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests;

/// <summary>
/// HttpClient opens and uses its connections on the thread pool, where no application frame is on the kernel's stacks:
/// its socket calls take the line its RequestStart event gave the request's flow (kept by the kernel with each call),
/// else the line of the trace's request to that peer (a host name's peer from its ConnectionEstablished event), when
/// only one line made requests to it.
/// </summary>
[Collection(typeof(KernelTracing))]
public sealed class HttpClientLineTests(EbpfFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-ebpf-http-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <remarks>
    /// A host name's socket is matched through HttpClient's ConnectionEstablished event, which says localhost reached
    /// 127.0.0.1 (the server listens there only; a connect to [::1] first, refused, is another socket, without a line).
    /// </remarks>
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task TraceAsync_HttpClientGet_SocketCallsGetTheRequestLineAndExactBytes(string host)
    {
        fixture.Require();
        await using var upstream = new LoopbackHttpServer(new string('x', 3_000));
        using var http = new HttpClient();
        var uri = new Uri($"http://{host}:{upstream.Peer[(upstream.Peer.LastIndexOf(':') + 1)..]}/");

        var report = await IoTracer.TraceAsync(Strategy.All, async () =>
        {
            using var response = await http.GetAsync(uri, TestContext.Current.CancellationToken); // the request
            _ = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        });
        await upstream.Served;

        Assert.Equal(("ebpf", true), (report.Backend, report.IsComplete));
        var sockets = report.Aggregates.Where(a => a.Target == upstream.Peer).ToList();
        Assert.Equal(1, sockets.Where(a => a.Probe == "connect").Sum(a => a.Calls));
        Assert.Equal(upstream.BytesReceived, sockets.Where(a => a.Probe is "sendto" or "sendmsg" or "write" or "writev").Sum(a => a.Bytes));
        Assert.Equal(upstream.BytesSent, sockets.Where(a => a.Probe is "recvfrom" or "recvmsg" or "read" or "readv").Sum(a => a.Bytes));
        var line = SourceLines.Of("// the " + "request");
        Assert.All(sockets, a => Assert.Equal(("HttpClientLineTests.cs", line), (Path.GetFileName(a.File), a.Line)));
        Assert.Superset(new HashSet<string> { "connect", "sendto", "recvfrom" }, sockets.Select(a => a.Probe).ToHashSet());
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task TraceAsync_HttpClientToOnePeerFromTwoLines_EachRequestsCallsOnItsOwnLine()
    {
        fixture.Require();
        var path = Path.Combine(_directory, "between.bin");
        await File.WriteAllBytesAsync(path, new byte[1_234], TestContext.Current.CancellationToken);
        await using var warmUp = new LoopbackHttpServer("hello");
        await using var upstream = new LoopbackHttpServer("hello");
        using var http = new HttpClient();

        // Once untraced (another server: its connections are counted apart), so the traced run has no JIT-time
        // assembly loads and its code is in the backend's code map.
        await TwoRequestsAndAReadAsync(http, new Uri($"http://{warmUp.Peer}/"), path);
        Assert.True(EbpfFixture.Backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));
        var report = await IoTracer.TraceAsync(Strategy.All, () => TwoRequestsAndAReadAsync(http, new Uri($"http://{upstream.Peer}/"), path));
        await upstream.ServedAsync(2);

        Assert.Equal(("ebpf", true), (report.Backend, report.IsComplete));
        // The peer cannot tell the two requests apart, but each thread's calls keep the line they inherit: each request's
        // own (HttpClient's RequestStart gives it to its flow). Two identical requests, a connection each (the server
        // closes it): half of each side's bytes per line. The socket's creation and options come with no line.
        var sockets = report.Aggregates.Where(a => a.Target == upstream.Peer).ToList();
        int[] lines = [SourceLines.Of("// the first " + "line"), SourceLines.Of("// the second " + "line")];
        Assert.All(sockets.Where(a => a.Line is null), a => Assert.Contains(a.Probe, (string[])["socket", "setsockopt", "getpeername"]));
        Assert.All(sockets.Where(a => a.Line is not null), a => Assert.Equal("HttpClientLineTests.cs", Path.GetFileName(a.File)));
        Assert.Equal(lines, sockets.Where(a => a.Probe == "connect").Select(a => a.Line ?? 0).Order());
        foreach (var line in lines)
        {
            var own = sockets.Where(a => a.Line == line).ToList();
            Assert.Equal(upstream.BytesReceived / 2, own.Where(a => a.Probe is "sendto" or "sendmsg" or "write" or "writev").Sum(a => a.Bytes));
            Assert.Equal(upstream.BytesSent / 2, own.Where(a => a.Probe is "recvfrom" or "recvmsg" or "read" or "readv").Sum(a => a.Bytes));
        }

        var read = SourceLines.Of("// the read " + "between");
        var file = report.Aggregates.Where(a => a.Target == path).ToList();
        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 1234", EbpfBackendTests.ByProbe(new IoTraceReport(report.Strategy, report.Backend, report.Elapsed, file, report.IsComplete, report.Features)));
        Assert.All(file, a => Assert.Equal(("HttpClientLineTests.cs", read), (Path.GetFileName(a.File), a.Line)));
    }

    /// <remarks>
    /// A connection pooled before IoTrace listened to HttpClient (emulated by forgetting what its ConnectionEstablished
    /// event said) announces no address for its host name: the traced request's own resolution of localhost stands in.
    /// </remarks>
    [Fact]
    public async Task TraceAsync_PooledConnectionOpenedBeforeListening_SocketCallsGetTheRequestLineThroughDns()
    {
        fixture.Require();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var server = builder.Build();
        server.MapGet("/", () => new string('z', 1_500));
        await server.StartAsync(TestContext.Current.CancellationToken);
        var port = new Uri(server.Urls.First()).Port;
        using var http = new HttpClient();
        var uri = new Uri($"http://localhost:{port}/");
        Assert.Equal(1_500, (await http.GetStringAsync(uri, TestContext.Current.CancellationToken)).Length);
        IoTrace.Attribution.HttpClientConnections.Clear();

        var report = await IoTracer.TraceAsync(Strategy.All, async () =>
        {
            Assert.Equal(1_500, (await http.GetStringAsync(uri, TestContext.Current.CancellationToken)).Length); // the pooled request
        });

        // No connect: the connection was pooled. Its sends and receives are the request's.
        Assert.Equal(("ebpf", true), (report.Backend, report.IsComplete));
        var sockets = report.Aggregates.Where(a => a.Target == $"127.0.0.1:{port}").ToList();
        Assert.DoesNotContain(sockets, a => a.Probe == "connect");
        Assert.Contains(sockets, a => a.Probe is "sendto" or "sendmsg" or "write" or "writev");
        Assert.Contains(sockets, a => a.Probe is "recvfrom" or "recvmsg" or "read" or "readv");
        var line = SourceLines.Of("// the pooled " + "request");
        Assert.All(sockets, a => Assert.Equal(("HttpClientLineTests.cs", line), (Path.GetFileName(a.File), a.Line)));
    }

    [Fact]
    public async Task Resolve_WhileAFlowIsTraced_TheResolutionsIoIsNotCharged()
    {
        fixture.Require();
        var path = Path.Combine(_directory, "during.bin");
        await File.WriteAllBytesAsync(path, new byte[321], TestContext.Current.CancellationToken);

        // A port no other test uses: a resolution of its own, reading /etc/hosts (and whatever glibc's resolver reads).
        var port = Random.Shared.Next(20_000, 60_000);
        var report = await IoTracer.TraceAsync(Strategy.All, async () =>
        {
            _ = await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken);
            IoTrace.Attribution.HttpClientConnections.Resolve("localhost", port);
            Assert.NotEmpty(IoTrace.Attribution.HttpClientConnections.AddressesOf("localhost", port, TimeSpan.FromSeconds(10)));
        });

        Assert.Equal(("ebpf", true), (report.Backend, report.IsComplete));
        Assert.Equal([path], report.Aggregates.Select(a => a.Target).Distinct());
    }

    [Fact]
    public async Task FirstTracedHttpClientCall_FreshProcess_ResolversPdbReadsAreNotReported()
    {
        fixture.Require();
        await using var upstream = new LoopbackHttpServer(new string('y', 2_000));
        var (rows, done, exitCode) = await HostProcess.TraceAsync("http", $"http://{upstream.Peer}/");
        await upstream.Served;

        Assert.Equal(("DONE ebpf True", 0), (done, exitCode));
        Assert.DoesNotContain(rows, r => r[5].EndsWith(".pdb", StringComparison.Ordinal));
        var line = HostProcess.LineOf("// the host's request");
        var sockets = rows.Where(r => r[5] == upstream.Peer).ToList();
        Assert.Contains(sockets, r => r[0] == "connect");
        Assert.All(sockets, r => Assert.Equal(("Program.cs", line.ToString(System.Globalization.CultureInfo.InvariantCulture)), (r[1], r[2])));
        Assert.Equal(upstream.BytesReceived, sockets.Where(r => r[0] is "sendto" or "sendmsg" or "write" or "writev").Sum(r => long.Parse(r[4], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(upstream.BytesSent, sockets.Where(r => r[0] is "recvfrom" or "recvmsg" or "read" or "readv").Sum(r => long.Parse(r[4], System.Globalization.CultureInfo.InvariantCulture)));
    }

    private static async Task TwoRequestsAndAReadAsync(HttpClient http, Uri uri, string path)
    {
        Assert.Equal("hello", await http.GetStringAsync(uri, TestContext.Current.CancellationToken)); // the first line
        _ = File.ReadAllBytes(path); // the read between
        Assert.Equal("hello", await http.GetStringAsync(uri, TestContext.Current.CancellationToken)); // the second line
    }
}
