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
using IoTrace.Tests.KernelBackends;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests.Middleware;

/// <summary>The middleware on the eBPF backend: the kernel backends' middleware suite, and a reload without re-attaching.</summary>
[Collection(typeof(KernelTracing))]
public sealed class EbpfMiddlewareTests(EbpfFixture fixture) : KernelBackendMiddleware
{
    protected override string Backend => "ebpf";

    protected override IoTraceBackend BackendOption => IoTraceBackend.Ebpf;

    protected override void RequireBackend() => fixture.Require();

    protected override void AddBackend(IServiceCollection services) => services.AddEbpfBackend();

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
        var path = Path.Combine(Folder, "reload.bin");
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
}
