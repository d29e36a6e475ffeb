using IoTrace.AspNetCore;
using IoTrace.Tracing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Xunit;

namespace IoTrace.Etw.Tests.DependencyInjection;

/// <summary>The ETW backend registered where it cannot run (Linux): the app learns why, and Auto serves in process.</summary>
public sealed class IoTraceEtwServiceCollectionExtensionsTests
{
    private const string Reason = "the ETW backend runs on Windows";

    [Fact]
    public void AddEtwBackend_Twice_RegistersTheProviderOnce()
    {
        var services = new ServiceCollection().AddEtwBackend().AddEtwBackend();

        var provider = Assert.Single(services, d => d.ServiceType == typeof(IoTraceBackendProvider));
        Assert.Same(IoTraceEtw.Backend, provider.ImplementationInstance);
        Assert.Equal("etw", IoTraceEtw.Backend.Name);
    }

    [Fact]
    public async Task StartAsync_EtwOutsideWindows_FailsNamingTheKeyAndTheReason()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "the ETW backend can run on Windows");
        await using var app = Build(IoTraceBackend.Etw, new FakeLogCollector());

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));

        var failure = Assert.Single(exception.Failures);
        Assert.StartsWith($"IoTrace:Backend: the Etw backend cannot run in this process: {Reason}", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_AutoOnLinuxWithEtwRegistered_ServedInProcessWithTheReason()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the in-process backend serves on Linux");
        var collector = new FakeLogCollector();
        await using var app = Build(IoTraceBackend.Auto, collector);
        app.MapGet("/", () => "ok");

        await app.StartAsync(TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        Assert.Equal("ok", await client.GetStringAsync("/", TestContext.Current.CancellationToken));
        Assert.Equal("inprocess", app.Services.GetRequiredService<Tracer>().Backend.Name);
        var selected = Assert.Single(collector.GetSnapshot(), r => r.Id.Name == "BackendSelected");
        Assert.Contains($"etw not used: {Reason}", selected.Message, StringComparison.Ordinal);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    private static WebApplication Build(IoTraceBackend backend, FakeLogCollector collector)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(collector));
        builder.Services.AddIoTrace(o => (o.Strategy, o.Backend) = (Strategy.Summary, backend)).AddEtwBackend();
        var app = builder.Build();
        app.UseIoTrace();
        return app;
    }
}
