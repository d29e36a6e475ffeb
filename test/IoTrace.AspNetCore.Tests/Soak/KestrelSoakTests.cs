using System.Net;
using System.Runtime.Versioning;
using IoTrace.AspNetCore.Logging;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Soak;

/// <summary>
/// The CI-sized soak (bench/soak/run.sh is the full one): thousands of requests at concurrency 64 against a real
/// Kestrel on 127.0.0.1, traced with All, each reading a file and calling a loopback upstream over HttpClient.
/// Every request succeeds with a report, nothing logs a warning or an error, and the tracer's tables are idle after.
/// </summary>
[Collection(typeof(ProcessWideSoak))]
[SupportedOSPlatform("linux")]
public sealed class KestrelSoakTests
{
    private const int Concurrency = 64;
    private const int WarmUpRequests = 256;
    private const int HalfRequests = 2048;
    private const int FileSize = 1000;
    private const string UpstreamPath = "/soak/upstream";

    // A cache that grows per request grows by at least one key per request (2048 over the second half). One that
    // does not still gains a few keys: tiered compilation moves a call path's code, hence its key, once per tier
    // (20 keys on the reference machine).
    private const int CallSiteKeyAllowance = HalfRequests / 8;

    [Fact]
    public async Task InvokeAsync_ThousandsOfRequestsAt64Concurrent_AllSucceedWithReportsAndTablesReturnToIdle()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the in-process backend runs on Linux only");
        var file = TestFiles.Create(FileSize);
        using var upstreamClient = new HttpClient();
        await using var app = new TestApp
        {
            Settings = { ["IoTrace:Strategy"] = "All" },
            UsePipeline = pipeline =>
            {
                // The upstream branches off before the middleware: only the request that calls it is traced.
                pipeline.Map(UpstreamPath, upstream => upstream.Run(context => context.Response.WriteAsync(new string('u', 2000), context.RequestAborted)));
                pipeline.UseIoTrace();
                pipeline.Map("/soak", soak => soak.Run(async context =>
                {
                    var content = await File.ReadAllBytesAsync(file, context.RequestAborted);
                    var page = await upstreamClient.GetStringAsync(new Uri($"http://{context.Request.Host}{UpstreamPath}"), context.RequestAborted);
                    await context.Response.WriteAsync($"{content.Length} {page.Length}", context.RequestAborted);
                }));
            },
            ConfigureLogging = logging => logging.AddFilter("Microsoft", LogLevel.Warning),
        }.UseLoopbackKestrel();
        using var client = app.CreateHttpClient();
        var idle = TracerTables.Read();

        await SendAsync(client, app, first: 0, count: WarmUpRequests);
        await SendAsync(client, app, first: WarmUpRequests, count: HalfRequests);
        var half = TracerTables.Read();
        await SendAsync(client, app, first: WarmUpRequests + HalfRequests, count: HalfRequests);
        var end = TracerTables.Read();

        TestContext.Current.TestOutputHelper?.WriteLine($"Tracer tables: before {idle}, after the first half {half}, at the end {end}");
        var problems = app.Logs.Collector.GetSnapshot().Where(r => r.Level >= LogLevel.Warning).Select(r => $"{r.Level} {r.Category}: {r.Message} {r.Exception}");
        Assert.Empty(problems);
        Assert.Equal((0, 0, 0), (end.ActiveTraces, end.ShimActiveTraces, end.FdOwners));
        Assert.True(
            end.CachedCallSites - half.CachedCallSites <= CallSiteKeyAllowance,
            $"The call-site cache grew from {half.CachedCallSites} to {end.CachedCallSites} keys over {HalfRequests} requests on the same paths.");
    }

    /// <summary>Sends requests <paramref name="first"/> onwards from 64 clients at once, then waits for their reports.</summary>
    private static async Task SendAsync(HttpClient client, TestApp app, int first, int count)
    {
        var statuses = new HttpStatusCode[count];
        var bodies = new string[count];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                using var response = await client.GetResponseAsync($"/soak/{first + i}");
                statuses[i] = response.StatusCode;
                bodies[i] = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            }
        })));

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.All(bodies, body => Assert.Equal($"{FileSize} 2000", body));
        await app.Logs.WaitForReportsAsync(first + count);

        // One report per request, each complete, with the file's bytes and the upstream call in it.
        var reports = app.Logs.Reports.Select(r => r.Fields()).Where(f => IndexOf(f.Path) >= first).ToList();
        Assert.Equal(Enumerable.Range(first, count), reports.Select(f => IndexOf(f.Path)).Order());
        Assert.All(reports, f =>
        {
            Assert.Equal(200, f.StatusCode);
            Assert.Equal("True", f[IoTraceRequestLog.IsCompleteKey]);
            Assert.True(f.Bytes > FileSize, $"{f.Path}: {f.Bytes} bytes, not the file's {FileSize} and the upstream call's");
        });
    }

    private static int IndexOf(string path) => int.Parse(path["/soak/".Length..], System.Globalization.CultureInfo.InvariantCulture);
}
