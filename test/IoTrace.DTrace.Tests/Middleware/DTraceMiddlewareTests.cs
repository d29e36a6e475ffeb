using System.Globalization;
using IoTrace.AspNetCore;
using IoTrace.AspNetCore.Logging;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace IoTrace.DTrace.Tests.Middleware;

/// <summary>The middleware on the dtrace backend: real Kestrel on 127.0.0.1, real HttpClient, concurrent requests.</summary>
[Collection(typeof(DTraceTracing))]
public sealed class DTraceMiddlewareTests(DTraceFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-dtrace-mw-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task ConcurrentRequests_DTraceBackend_EachReportHasExactlyItsOwnRead()
    {
        fixture.Require();
        var logs = new TestLogs();
        await using var app = CreateApp(logs, Strategy.All);
        app.MapGet("/file/{size:int}", async (int size) =>
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(_directory, $"{size}.bin")); // the endpoint's read
            return bytes.Length.ToString(CultureInfo.InvariantCulture);
        });

        // The first request also loads assemblies (the kernel sees the runtime open them): warm up before the exact checks.
        await File.WriteAllBytesAsync(Path.Combine(_directory, "1.bin"), [1], TestContext.Current.CancellationToken);
        var sizes = Enumerable.Range(0, 16).Select(i => 2_000 + (i * 101)).ToArray();
        foreach (var size in sizes)
        {
            await File.WriteAllBytesAsync(Path.Combine(_directory, $"{size}.bin"), new byte[size], TestContext.Current.CancellationToken);
        }

        await app.StartAsync(TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        Assert.Equal("1", await client.GetStringAsync("/file/1", TestContext.Current.CancellationToken));
        var bodies = await WithoutGc.RunAsync(async () =>
        {
            var read = await Task.WhenAll(sizes.Select(size => client.GetStringAsync($"/file/{size}", TestContext.Current.CancellationToken)));
            await logs.WaitForReportsAsync(sizes.Length + 1);
            return read;
        });
        await app.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(sizes.Select(s => s.ToString(CultureInfo.InvariantCulture)), bodies);
        var line = SourceLines.Of("// the endpoint's read");
        foreach (var size in sizes)
        {
            var report = Assert.Single(logs.Reports.Select(r => r.Fields()), r => r.Path == $"/file/{size}");
            Assert.Equal(("dtrace", "True"), (report.Backend, report[IoTraceRequestLog.IsCompleteKey]));
            Assert.Equal($"close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 {size}", ByProbe(report));
            Assert.All(report.Aggregates, a => Assert.Equal(("DTraceMiddlewareTests.cs", line, Path.Combine(_directory, $"{size}.bin")), (Path.GetFileName(a.File), a.Line, a.Target)));
        }
    }

    private static WebApplication CreateApp(TestLogs logs, Strategy strategy)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(logs.Collector));
        builder.Services.AddIoTrace(o => (o.Strategy, o.Backend) = (strategy, IoTraceBackend.DTrace)).AddDTraceBackend();
        var app = builder.Build();
        app.UseIoTrace();
        return app;
    }

    private static string ByProbe(ReportFields report) =>
        string.Join(", ", report.Aggregates.GroupBy(a => a.Probe).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Sum(a => a.Calls)} {g.Sum(a => a.Bytes)}"));
}
