using System.Net;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using Xunit;

namespace IoTrace.AspNetCore.Tests;

/// <summary>The middleware on a real Kestrel at 127.0.0.1 with a real HttpClient: sockets, isolation, failures.</summary>
public sealed partial class IoTraceMiddlewareTests
{
    private static readonly string[] s_readProbes = ["read", "pread64", "readv", "preadv", "preadv2", "recvfrom", "recvmsg"];
    private static readonly string[] s_writeProbes = ["write", "pwrite64", "writev", "pwritev", "pwritev2", "sendto", "sendmsg", "sendfile"];

    [Fact]
    public async Task InvokeAsync_OnKestrel_EndpointReadsFile_LogsItsBytesLineStatusAndRoute()
    {
        var path = TestFiles.Create(4096);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read" } }.UseLoopbackKestrel();
        using var client = app.CreateHttpClient();

        var body = await client.GetTextAsync("/files/4096");

        var record = await app.Logs.ReportForAsync("/files/4096");
        AssertFileReport(app, record, path, 4096, TestRequests.LineIn(body), "/files/{size:int}", 200);
    }

    [Fact]
    public async Task InvokeAsync_OnKestrel_RequestAndResponseBodies_TransportIoNotInReport()
    {
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "All" } }.UseLoopbackKestrel();
        using var client = app.CreateHttpClient();
        var payload = new byte[256 * 1024];
        Random.Shared.NextBytes(payload);

        using var response = await client.PostAsync(new Uri("/echo", UriKind.Relative), new ByteArrayContent(payload), TestContext.Current.CancellationToken);

        Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken));
        var fields = (await app.Logs.ReportForAsync("/echo")).Fields();
        Assert.Equal(("POST", 200, 0L, 0L), (fields.Method, fields.StatusCode, fields.Calls, fields.Bytes));
        Assert.Empty(fields.Aggregates);
    }

    [Fact]
    public async Task InvokeAsync_OnKestrel_EndpointCallsLoopbackServer_SocketBytesMatchTheServers()
    {
        await using var upstream = new LoopbackHttpServer(new string('x', 3000));
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "All" } }.UseLoopbackKestrel();
        using var client = app.CreateHttpClient();

        var body = await client.GetTextAsync($"/upstream/{upstream.Port}");
        await upstream.Served.WaitAsync(TestLogs.Timeout, TestContext.Current.CancellationToken);

        Assert.Equal(new string('x', 3000), body);
        var fields = (await app.Logs.ReportForAsync($"/upstream/{upstream.Port}")).Fields();
        var toUpstream = fields.Aggregates.Where(a => a.Target == upstream.Peer).ToList();
        var report = $"upstream {upstream.Peer} received {upstream.BytesReceived} and sent {upstream.BytesSent} bytes; the report: {string.Join("; ", fields.Aggregates)}";
        Assert.True(upstream.BytesReceived == toUpstream.Where(a => s_writeProbes.Contains(a.Probe)).Sum(a => a.Bytes), report);
        Assert.True(upstream.BytesSent == toUpstream.Where(a => s_readProbes.Contains(a.Probe)).Sum(a => a.Bytes), report);
        Assert.Equal(upstream.Response.Length, upstream.BytesSent);
        Assert.Equal(1, toUpstream.Where(a => a.Probe == "connect").Sum(a => a.Calls));

        // Nothing was read or written anywhere else: Kestrel's own connection to the client is not in the report.
        Assert.True(fields.Bytes == toUpstream.Sum(a => a.Bytes), report);
    }

    [Fact]
    public async Task InvokeAsync_OnKestrel_EndpointThrows_LogsStatus500()
    {
        var path = TestFiles.Create(100);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read" } }.UseLoopbackKestrel();
        using var client = app.CreateHttpClient();

        using var response = await client.GetResponseAsync("/files/100/throw");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var fields = (await app.Logs.ReportForAsync("/files/100/throw")).Fields();
        Assert.Equal((500, "/files/{size:int}/throw", 100L), (fields.StatusCode, fields.Route, fields.Bytes));
        Assert.Equal([(path, 100L)], fields.Aggregates.Select(a => (a.Target, a.Bytes)));
    }

    [Fact]
    public async Task InvokeAsync_OnKestrel_32ConcurrentRequests_EachReportHoldsOnlyItsOwnFile()
    {
        var sizes = Enumerable.Range(0, 32).Select(i => 1000 + (i * 1031)).ToArray();
        foreach (var size in sizes)
        {
            TestFiles.Create(size);
        }

        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read" } }.UseLoopbackKestrel();
        using var client = app.CreateHttpClient();

        var bodies = await Task.WhenAll(sizes.Select(size => client.GetTextAsync($"/files/{size}")));

        await app.Logs.WaitForReportsAsync(sizes.Length);
        Assert.Equal(sizes.Length, app.Logs.Reports.Count);
        var line = TestRequests.LineIn(bodies[0]);
        foreach (var size in sizes)
        {
            var fields = (await app.Logs.ReportForAsync($"/files/{size}")).Fields();
            Assert.Equal(size, fields.Bytes);
            var aggregate = Assert.Single(fields.Aggregates);
            Assert.Equal(("pread64", TestFiles.PathOf(size), line, (long)size), (aggregate.Probe, aggregate.Target, aggregate.Line, aggregate.Bytes));
        }
    }
}
