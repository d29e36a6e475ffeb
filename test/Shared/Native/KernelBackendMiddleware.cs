using System.Globalization;
using IoTrace.AspNetCore;
using IoTrace.AspNetCore.Logging;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace IoTrace.Tests.KernelBackends;

/// <summary>
/// The middleware on a kernel-side backend: real Kestrel on 127.0.0.1, real HttpClient, concurrent requests, reports
/// that complete after a flush. Each kernel backend's middleware tests derive from it.
/// </summary>
public abstract class KernelBackendMiddleware : IDisposable
{
    protected string Folder { get; } = Directory.CreateTempSubdirectory("iotrace-kernel-mw-").FullName;

    /// <summary>The kernel backend's name, as reports give it.</summary>
    protected abstract string Backend { get; }

    /// <summary>The <c>Backend</c> option that asks for it.</summary>
    protected abstract IoTraceBackend BackendOption { get; }

    /// <summary>Makes the kernel backend the process's backend (the collection's fixture).</summary>
    protected abstract void RequireBackend();

    /// <summary>Registers the backend's package with the app (<c>AddEbpfBackend()</c>, ...).</summary>
    protected abstract void AddBackend(IServiceCollection services);

    public void Dispose()
    {
        Directory.Delete(Folder, recursive: true);
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task ConcurrentRequests_KernelBackend_EachReportHasExactlyItsOwnRead()
    {
        RequireBackend();
        var logs = new TestLogs();
        await using var app = CreateApp(logs, Strategy.All);
        app.MapGet("/file/{size:int}", async (int size) =>
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(Folder, $"{size}.bin")); // the endpoint's read
            return bytes.Length.ToString(CultureInfo.InvariantCulture);
        });

        // The first request also loads assemblies (the kernel sees the runtime open them), and its flush teaches the
        // backend's stack walk what it met first: warm up, up to its report, before the exact checks.
        await File.WriteAllBytesAsync(Path.Combine(Folder, "1.bin"), [1], TestContext.Current.CancellationToken);
        var sizes = Enumerable.Range(0, 32).Select(i => 2_000 + (i * 101)).ToArray();
        foreach (var size in sizes)
        {
            await File.WriteAllBytesAsync(Path.Combine(Folder, $"{size}.bin"), new byte[size], TestContext.Current.CancellationToken);
        }

        await app.StartAsync(TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        Assert.Equal("1", await client.GetStringAsync("/file/1", TestContext.Current.CancellationToken));
        await logs.ReportForAsync("/file/1");

        // A garbage collection in a traced request reads /proc/meminfo: the runtime's IO, left out of the counts.
        var bodies = await Task.WhenAll(sizes.Select(size => client.GetStringAsync($"/file/{size}", TestContext.Current.CancellationToken)));
        await logs.WaitForReportsAsync(sizes.Length + 1);
        await app.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(sizes.Select(s => s.ToString(CultureInfo.InvariantCulture)), bodies);
        var line = SourceLines.Of("// the endpoint's read");
        foreach (var size in sizes)
        {
            var report = Assert.Single(logs.Reports.Select(r => r.Fields()), r => r.Path == $"/file/{size}");
            Assert.Equal((Backend, "True"), (report.Backend, report[IoTraceRequestLog.IsCompleteKey]));
            Assert.Equal($"close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 {size}", ByProbe(report));
            Assert.All(report.Aggregates, a => Assert.Equal(("KernelBackendMiddleware.cs", line, Path.Combine(Folder, $"{size}.bin")), (Path.GetFileName(a.File), a.Line, a.Target)));
        }
    }

    [Fact]
    public async Task StopAsync_RightAfterTheLastResponse_ItsReportIsLoggedWholeBeforeTheHostStops()
    {
        RequireBackend();
        var logs = new TestLogs();
        await using var app = CreateApp(logs, Strategy.Read);
        app.MapGet("/last", async () => (await File.ReadAllBytesAsync(Path.Combine(Folder, "last.bin"))).Length);
        await File.WriteAllBytesAsync(Path.Combine(Folder, "last.bin"), new byte[4_321], TestContext.Current.CancellationToken);
        await app.StartAsync(TestContext.Current.CancellationToken);
        using (var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) })
        {
            Assert.Equal("4321", await client.GetStringAsync("/last", TestContext.Current.CancellationToken));
        }

        // No wait for the report: a kernel backend logs it after a flush, after the response; the host's shutdown
        // waits for it.
        await app.StopAsync(TestContext.Current.CancellationToken);

        // The first request also has the runtime's reads of the assemblies it loads: the file's read is counted apart.
        var report = Assert.Single(logs.Reports.Select(r => r.Fields()));
        Assert.Equal((Backend, "True"), (report.Backend, report[IoTraceRequestLog.IsCompleteKey]));
        var file = Assert.Single(report.Aggregates, a => a.Target == Path.Combine(Folder, "last.bin"));
        Assert.Equal(("pread64", 1L, 4_321L), (file.Probe, file.Calls, file.Bytes));
    }

    /// <summary>Calls and bytes per probe of a logged report, in probe order.</summary>
    private protected static string ByProbe(ReportFields report) =>
        string.Join(", ", report.Aggregates.GroupBy(a => a.Probe).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Sum(a => a.Calls)} {g.Sum(a => a.Bytes)}"));

    /// <summary>Kestrel on 127.0.0.1, any port, logging to <paramref name="logs"/>, the middleware on the kernel backend.</summary>
    private WebApplication CreateApp(TestLogs logs, Strategy strategy)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(logs.Collector));
        AddBackend(builder.Services.AddIoTrace(o => (o.Strategy, o.Backend) = (strategy, BackendOption)));
        var app = builder.Build();
        app.UseIoTrace();
        return app;
    }
}
