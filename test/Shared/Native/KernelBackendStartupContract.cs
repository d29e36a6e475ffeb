using IoTrace.AspNetCore;
using IoTrace.Tracing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Xunit;

namespace IoTrace.Tests.KernelBackends;

/// <summary>
/// A kernel backend that cannot run (what it needs hidden, through the environment variable that names it): an explicit
/// backend stops startup with the key and the reason; <c>Auto</c> starts and serves on the in-process backend, with the
/// reason the kernel backend was not used in its selection. Each kernel backend's startup tests derive from it.
/// </summary>
public abstract class KernelBackendStartupContract : IDisposable
{
    private readonly string? _configured;

    protected KernelBackendStartupContract() => _configured = Environment.GetEnvironmentVariable(Variable);

    /// <summary>The backend, as the <c>IoTrace:Backend</c> setting names it.</summary>
    protected abstract IoTraceBackend Backend { get; }

    /// <summary>The environment variable that names what the backend needs (its library, its executable).</summary>
    protected abstract string Variable { get; }

    /// <summary>The path the variable names in the tests: nothing is there.</summary>
    protected abstract string Missing { get; }

    /// <summary>The reason the backend gives when what <see cref="Variable"/> names is missing, or its start.</summary>
    protected abstract string Reason { get; }

    /// <summary>Makes the kernel backend runnable in this process (the collection's fixture), before it is hidden.</summary>
    protected abstract void RequireBackend();

    protected abstract void AddBackend(IServiceCollection services);

    public virtual void Dispose()
    {
        Environment.SetEnvironmentVariable(Variable, _configured);
        GC.SuppressFinalize(this);
    }

    /// <summary>Hides what the backend needs from the next selection of a backend.</summary>
    protected virtual void Hide() => Environment.SetEnvironmentVariable(Variable, Missing);

    [Fact]
    public async Task StartAsync_ExplicitBackendThatCannotRun_FailsNamingTheKeyAndTheReason()
    {
        RequireBackend();
        Hide();
        await using var app = Build(Backend, new FakeLogCollector());

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));

        var failure = Assert.Single(exception.Failures);
        Assert.StartsWith($"IoTrace:Backend: the {Backend} backend cannot run in this process: {Reason}", failure, StringComparison.Ordinal);
        Assert.Contains("Allowed values: Auto, InProcess, Ebpf, DTrace, Etw", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_AutoWhereTheBackendCannotRun_ServedOnTheInProcessBackendWithTheReason()
    {
        RequireBackend();
        Hide();
        var collector = new FakeLogCollector();
        await using var app = Build(IoTraceBackend.Auto, collector);
        app.MapGet("/", () => "ok");

        await app.StartAsync(TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        Assert.Equal("ok", await client.GetStringAsync("/", TestContext.Current.CancellationToken));
        Assert.Equal("inprocess", app.Services.GetRequiredService<Tracer>().Backend.Name);
        var selected = Assert.Single(collector.GetSnapshot(), r => r.Id.Name == "BackendSelected");
        Assert.Contains($"{Backend.ToString().ToLowerInvariant()} not used: {Reason}", selected.Message, StringComparison.Ordinal);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    private WebApplication Build(IoTraceBackend backend, FakeLogCollector collector)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(collector));
        builder.Services.AddIoTrace(o => (o.Strategy, o.Backend) = (Strategy.Summary, backend));
        AddBackend(builder.Services);
        var app = builder.Build();
        app.UseIoTrace();
        return app;
    }
}
