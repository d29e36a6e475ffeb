using System.Globalization;
using IoTrace.AspNetCore;
using IoTrace.AspNetCore.Logging;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Ebpf.Tests.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests.Middleware;

/// <summary>The middleware on the eBPF backend: real Kestrel on 127.0.0.1, real HttpClient, concurrent requests.</summary>
[Collection(typeof(KernelTracing))]
public sealed class EbpfMiddlewareTests(EbpfFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-ebpf-mw-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task ConcurrentRequests_EbpfBackend_EachReportHasExactlyItsOwnRead()
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
        var sizes = Enumerable.Range(0, 32).Select(i => 2_000 + (i * 101)).ToArray();
        foreach (var size in sizes)
        {
            await File.WriteAllBytesAsync(Path.Combine(_directory, $"{size}.bin"), new byte[size], TestContext.Current.CancellationToken);
        }

        await app.StartAsync(TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        Assert.Equal("1", await client.GetStringAsync("/file/1", TestContext.Current.CancellationToken));
        // A garbage collection in a traced request reads /proc/meminfo, which the exact counts below do not expect (it was
        // charged about once in eight runs: not always known as the runtime's own IO).
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
            Assert.Equal(("ebpf", "True"), (report.Backend, report[IoTraceRequestLog.IsCompleteKey]));
            Assert.Equal($"close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 {size}", ByProbe(report));
            Assert.All(report.Aggregates, a => Assert.Equal(("EbpfMiddlewareTests.cs", line, Path.Combine(_directory, $"{size}.bin")), (Path.GetFileName(a.File), a.Line, a.Target)));
        }
    }

    [Fact]
    public async Task StopAsync_RightAfterTheLastResponse_ItsReportIsLoggedWholeBeforeTheHostStops()
    {
        fixture.Require();
        var logs = new TestLogs();
        await using var app = CreateApp(logs, Strategy.Read);
        app.MapGet("/last", async () => (await File.ReadAllBytesAsync(Path.Combine(_directory, "last.bin"))).Length);
        await File.WriteAllBytesAsync(Path.Combine(_directory, "last.bin"), new byte[4_321], TestContext.Current.CancellationToken);
        await app.StartAsync(TestContext.Current.CancellationToken);
        using (var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) })
        {
            Assert.Equal("4321", await client.GetStringAsync("/last", TestContext.Current.CancellationToken));
        }

        // No wait for the report: a kernel backend logs it after a flush, about 40 ms after the response; the host's
        // shutdown waits for it.
        await app.StopAsync(TestContext.Current.CancellationToken);

        // The first request also has the runtime's reads of the assemblies it loads: the file's read is counted apart.
        var report = Assert.Single(logs.Reports.Select(r => r.Fields()));
        Assert.Equal(("ebpf", "True"), (report.Backend, report[IoTraceRequestLog.IsCompleteKey]));
        var file = Assert.Single(report.Aggregates, a => a.Target == Path.Combine(_directory, "last.bin"));
        Assert.Equal(("pread64", 1L, 4_321L), (file.Probe, file.Calls, file.Bytes));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task ConfigurationReload_StrategyChange_AppliesToTheNextRequestWithoutReattaching()
    {
        fixture.Require();
        var backend = EbpfFixture.Backend;
        var probes = backend.Probes;
        var logs = new TestLogs();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(logs.Collector));
        builder.Configuration["IoTrace:Strategy"] = "Read";
        builder.Configuration["IoTrace:Backend"] = "Ebpf";
        builder.Services.AddIoTrace().AddEbpfBackend();
        await using var app = builder.Build();
        app.UseIoTrace();
        var path = Path.Combine(_directory, "reload.bin");
        await File.WriteAllBytesAsync(path, new byte[900], TestContext.Current.CancellationToken);
        app.MapGet("/read/{n:int}", async (int n) => (await File.ReadAllBytesAsync(path)).Length + n);
        await app.StartAsync(TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        // The first request also loads assemblies (the kernel sees the runtime read them): warm up first.
        await client.GetStringAsync("/read/0", TestContext.Current.CancellationToken);
        await client.GetStringAsync("/read/1", TestContext.Current.CancellationToken);
        builder.Configuration["IoTrace:Strategy"] = "Setup";
        ((IConfigurationRoot)app.Configuration).Reload();
        await client.GetStringAsync("/read/2", TestContext.Current.CancellationToken);
        var read = (await logs.ReportForAsync("/read/1")).Fields();
        var setup = (await logs.ReportForAsync("/read/2")).Fields();
        await app.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(("Read", "ebpf", "pread64 1 900"), (read.Strategy, read.Backend, ByProbe(read)));
        Assert.Equal(("Setup", "ebpf", "close 1 0, flock 2 0, fstat 2 0, openat 1 0"), (setup.Strategy, setup.Backend, ByProbe(setup)));
        Assert.Same(probes, backend.Probes);
    }

    /// <summary>Kestrel on 127.0.0.1, any port, logging to <paramref name="logs"/>, the middleware on the eBPF backend.</summary>
    private static WebApplication CreateApp(TestLogs logs, Strategy strategy)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(logs.Collector));
        builder.Services.AddIoTrace(o => (o.Strategy, o.Backend) = (strategy, IoTraceBackend.Ebpf)).AddEbpfBackend();
        var app = builder.Build();
        app.UseIoTrace();
        return app;
    }

    private static string ByProbe(ReportFields report) =>
        string.Join(", ", report.Aggregates.GroupBy(a => a.Probe).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Sum(a => a.Calls)} {g.Sum(a => a.Bytes)}"));
}
