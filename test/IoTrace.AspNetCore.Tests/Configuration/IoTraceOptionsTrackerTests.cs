using IoTrace.AspNetCore.Configuration;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Tracing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Configuration;

public sealed class IoTraceOptionsTrackerTests : IDisposable
{
    private readonly string _settingsFile = Path.Combine(Path.GetTempPath(), $"iotrace-appsettings-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_settingsFile);

    [Fact]
    public async Task Current_AppsettingsFileChanges_NextRequestUsesTheNewStrategy()
    {
        TestFiles.Create(100);
        TestRequests.WriteSettings(_settingsFile, """{ "Strategy": "Read" }""");
        await using var app = new TestApp { JsonFile = _settingsFile };
        using var client = app.CreateHttpClient();
        await client.GetTextAsync("/files/100");
        Assert.Equal("Read", (await app.Logs.ReportForAsync("/files/100")).Fields().Strategy);
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listener = app.Services.GetRequiredService<IOptionsMonitor<IoTraceOptions>>().OnChange(o =>
        {
            if (o.Strategy == Strategy.Setup)
            {
                changed.TrySetResult();
            }
        });

        // The real file watcher: the monitor raises OnChange once it has rebuilt the options.
        TestRequests.WriteSettings(_settingsFile, """{ "Strategy": "Setup" }""");
        await changed.Task.WaitAsync(TestLogs.Timeout, TestContext.Current.CancellationToken);
        using (await client.GetResponseAsync("/files/100/missing"))
        {
        }

        var fields = (await app.Logs.ReportForAsync("/files/100/missing")).Fields();
        Assert.Equal(("Setup", 0L), (fields.Strategy, fields.Bytes));
    }

    [Fact]
    public async Task Current_InvalidReload_LogsOnceAndKeepsTheLastValidOptions()
    {
        TestFiles.Create(100);
        TestRequests.WriteSettings(_settingsFile, """{ "Strategy": "Read" }""");
        await using var app = new TestApp { JsonFile = _settingsFile, ReloadOnChange = false };
        using var client = app.CreateHttpClient();
        await client.GetTextAsync("/files/100");
        await app.Logs.WaitForReportsAsync(1);

        TestRequests.WriteSettings(_settingsFile, """{ "Strategy": "Fastest" }""");

        // The options monitor itself throws out of Reload() for invalid validated options; IoTrace keeps serving.
        var reload = Assert.Throws<AggregateException>(app.Configuration.Reload);
        Assert.IsType<OptionsValidationException>(Assert.Single(reload.Flatten().InnerExceptions));
        var rejected = Assert.Single(app.Logs.Named("OptionsRejected"));
        Assert.Equal((LogLevel.Error, 104), (rejected.Level, rejected.Id.Id));
        Assert.Equal(
            "The changed IoTrace options are invalid and were not applied; the last valid options stay in force. IoTrace:Strategy: 'Fastest' is not a strategy. Allowed values: Summary, Setup, Read, Write, All.",
            rejected.Message);

        // The same invalid file reloaded again, as an editor's save can raise two change events: logged once.
        Assert.Throws<AggregateException>(app.Configuration.Reload);
        await client.GetTextAsync("/files/100");
        await client.GetTextAsync("/files/100");
        await app.Logs.WaitForReportsAsync(3);
        Assert.All(app.Logs.Reports, r => Assert.Equal(("Read", 100L), (r.Fields().Strategy, r.Fields().Bytes)));
        Assert.Single(app.Logs.Named("OptionsRejected"));

        // A valid change after a rejected one applies to the next request.
        TestRequests.WriteSettings(_settingsFile, """{ "Strategy": "All" }""");
        app.Configuration.Reload();
        await client.GetTextAsync("/files/100");
        await app.Logs.WaitForReportsAsync(4);
        Assert.Equal(["Read", "Read", "Read", "All"], app.Logs.Reports.Select(r => r.Fields().Strategy));
        Assert.Single(app.Logs.Named("OptionsRejected"));

        // After a valid change, the same mistake made again is logged again.
        TestRequests.WriteSettings(_settingsFile, """{ "Strategy": "Fastest" }""");
        Assert.Throws<AggregateException>(app.Configuration.Reload);
        Assert.Equal(2, app.Logs.Named("OptionsRejected").Count);
    }

    [Fact]
    public void Constructor_ConfigureMakesOptionsInvalid_Throws()
    {
        using var services = new ServiceCollection().AddIoTrace().BuildServiceProvider();

        var exception = Assert.Throws<OptionsValidationException>(() => CreateTracker(services, o => o.MinimumCalls = -5));

        Assert.Equal(["IoTrace:MinimumCalls: '-5' is negative. Allowed values: 0 (no threshold) or a positive count."], exception.Failures);
    }

    [Fact]
    public void Current_Configure_AppliesToACopy()
    {
        using var services = new ServiceCollection().AddIoTrace().BuildServiceProvider();
        using var tracker = CreateTracker(services, o => o.Strategy = Strategy.Write);

        var settings = tracker.Current;

        Assert.Equal(Strategy.Write, settings.Strategy);
        Assert.Same(services.GetRequiredService<IOptionsMonitor<IoTraceOptions>>().CurrentValue, settings.Source);
        Assert.Equal(Strategy.Summary, settings.Source.Strategy);
        Assert.Same(settings, tracker.Current);
    }

    private static IoTraceOptionsTracker CreateTracker(ServiceProvider services, Action<IoTraceOptions>? configure) => new(
        services.GetRequiredService<IOptionsMonitor<IoTraceOptions>>(),
        services.GetRequiredService<IOptionsFactory<IoTraceOptions>>(),
        services.GetServices<IValidateOptions<IoTraceOptions>>(),
        services.GetServices<IOptionsChangeTokenSource<IoTraceOptions>>(),
        "/srv/app",
        services.GetRequiredService<Tracer>(),
        NullLogger.Instance,
        configure);
}
