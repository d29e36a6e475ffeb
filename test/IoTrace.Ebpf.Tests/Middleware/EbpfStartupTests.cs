using IoTrace.AspNetCore;
using IoTrace.Tracing;
using IoTrace.Ebpf.Tests.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Xunit;

namespace IoTrace.Ebpf.Tests.Middleware;

/// <summary>
/// The eBPF backend cannot run (libbpf missing, simulated with IOTRACE_LIBBPF naming a file that is not there): an explicit
/// <c>Backend = Ebpf</c> stops startup with the key and the reason; <c>Auto</c> starts and serves on the in-process
/// backend, with the reason eBPF was not used in its selection.
/// </summary>
[Collection(typeof(KernelTracing))]
public sealed class EbpfStartupTests(EbpfFixture fixture) : IDisposable
{
    private const string Missing = "/nonexistent/libbpf.so.1";
    private readonly string? _configured = Environment.GetEnvironmentVariable("IOTRACE_LIBBPF");

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("IOTRACE_LIBBPF", _configured);
        IoTracer.Disable();
    }

    [Fact]
    public async Task StartAsync_ExplicitEbpfWithoutLibbpf_FailsNamingTheKeyAndTheReason()
    {
        fixture.Require();
        LeaveEbpfAndHideLibbpf();
        await using var app = Build(IoTraceBackend.Ebpf, new FakeLogCollector());

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));

        var failure = Assert.Single(exception.Failures);
        Assert.StartsWith("IoTrace:Backend: the Ebpf backend cannot run in this process: /nonexistent/libbpf.so.1 (IOTRACE_LIBBPF) could not be loaded (install libbpf 1.0 or later: apt-get install libbpf1", failure, StringComparison.Ordinal);
        Assert.Contains("Allowed values: Auto, InProcess, Ebpf, DTrace", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_AutoWithoutLibbpf_ServedOnTheInProcessBackendWithTheReason()
    {
        fixture.Require();
        LeaveEbpfAndHideLibbpf();
        var collector = new FakeLogCollector();
        await using var app = Build(IoTraceBackend.Auto, collector);
        app.MapGet("/", () => "ok");

        await app.StartAsync(TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        Assert.Equal("ok", await client.GetStringAsync("/", TestContext.Current.CancellationToken));
        Assert.Equal("inprocess", app.Services.GetRequiredService<Tracer>().Backend.Name);
        var selected = Assert.Single(collector.GetSnapshot(), r => r.Id.Name == "BackendSelected");
        Assert.Contains("ebpf not used: /nonexistent/libbpf.so.1 (IOTRACE_LIBBPF) could not be loaded", selected.Message, StringComparison.Ordinal);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    private static void LeaveEbpfAndHideLibbpf()
    {
        Assert.True(IoTracer.TryEnable("inprocess", out var reason), reason);
        Environment.SetEnvironmentVariable("IOTRACE_LIBBPF", Missing);
    }

    private static WebApplication Build(IoTraceBackend backend, FakeLogCollector collector)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(collector));
        builder.Services.AddIoTrace(o => (o.Strategy, o.Backend) = (Strategy.Summary, backend)).AddEbpfBackend();
        var app = builder.Build();
        app.UseIoTrace();
        return app;
    }
}
