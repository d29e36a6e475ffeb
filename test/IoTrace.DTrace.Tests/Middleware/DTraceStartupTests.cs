using IoTrace.AspNetCore;
using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Tracing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Xunit;

namespace IoTrace.DTrace.Tests.Middleware;

/// <summary>
/// The dtrace backend cannot run (dtrace missing, simulated with IOTRACE_DTRACE naming a file that is not there): an
/// explicit <c>Backend = DTrace</c> stops startup with the key and the reason; <c>Auto</c> starts and serves on the
/// in-process backend, with the reason dtrace was not used in its selection.
/// </summary>
[Collection(typeof(DTraceTracing))]
public sealed class DTraceStartupTests(DTraceFixture fixture) : IDisposable
{
    private const string Missing = "/nonexistent/dtrace";
    private readonly string? _configured = Environment.GetEnvironmentVariable("IOTRACE_DTRACE");

    public void Dispose() => Environment.SetEnvironmentVariable("IOTRACE_DTRACE", _configured);

    [Fact]
    public async Task StartAsync_ExplicitDTraceWithoutDTrace_FailsNamingTheKeyAndTheReason()
    {
        fixture.Require();
        Environment.SetEnvironmentVariable("IOTRACE_DTRACE", Missing);
        await using var app = Build(IoTraceBackend.DTrace, new FakeLogCollector());

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));

        var failure = Assert.Single(exception.Failures);
        Assert.StartsWith("IoTrace:Backend: the DTrace backend cannot run in this process: /nonexistent/dtrace (IOTRACE_DTRACE) does not exist.", failure, StringComparison.Ordinal);
        Assert.Contains("Allowed values: Auto, InProcess, Ebpf, DTrace", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_AutoWithoutDTrace_ServedOnTheInProcessBackendWithTheReason()
    {
        fixture.Require();
        Environment.SetEnvironmentVariable("IOTRACE_DTRACE", Missing);
        var collector = new FakeLogCollector();
        await using var app = Build(IoTraceBackend.Auto, collector);
        app.MapGet("/", () => "ok");

        await app.StartAsync(TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        Assert.Equal("ok", await client.GetStringAsync("/", TestContext.Current.CancellationToken));
        Assert.Equal("inprocess", app.Services.GetRequiredService<Tracer>().Backend.Name);
        var selected = Assert.Single(collector.GetSnapshot(), r => r.Id.Name == "BackendSelected");
        Assert.Contains("dtrace not used: /nonexistent/dtrace (IOTRACE_DTRACE) does not exist", selected.Message, StringComparison.Ordinal);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    private static WebApplication Build(IoTraceBackend backend, FakeLogCollector collector)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(collector));
        builder.Services.AddIoTrace(o => (o.Strategy, o.Backend) = (Strategy.Summary, backend)).AddDTraceBackend();
        var app = builder.Build();
        app.UseIoTrace();
        return app;
    }
}
