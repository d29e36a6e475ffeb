using System.Diagnostics;
using IoTrace.AspNetCore.Configuration;
using IoTrace.AspNetCore.Filtering;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Tests.Shared;
using Microsoft.Extensions.Options;
using Xunit;

namespace IoTrace.AspNetCore.Tests;

public sealed class IoTraceServiceCollectionExtensionsTests : IDisposable
{
    private const string AllowedStrategies = "Allowed values: Summary, Setup, Read, Write, All.";

    private readonly string _settingsFile = Path.Combine(Path.GetTempPath(), $"iotrace-appsettings-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_settingsFile);

    [Theory]
    [InlineData("summary", "Summary", new[] { "close", "flock", "fstat", "openat", "pread64" }, 4096)]
    [InlineData("SETUP", "Setup", new[] { "close", "flock", "fstat", "openat" }, 0)]
    [InlineData("Read", "Read", new[] { "pread64" }, 4096)]
    [InlineData("write", "Write", new string[0], 0)]
    [InlineData("All", "All", new[] { "close", "flock", "fstat", "openat", "pread64" }, 4096)]
    public async Task AddIoTrace_StrategyInAppsettings_RequestsAreTracedWithIt(string configured, string strategy, string[] probes, long bytes)
    {
        TestFiles.Create(4096);
        TestRequests.WriteSettings(_settingsFile, $$"""{ "Strategy": "{{configured}}" }""");
        await using var app = new TestApp { JsonFile = _settingsFile };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/files/4096");

        var fields = (await app.Logs.ReportForAsync("/files/4096")).Fields();
        Assert.Equal(strategy, fields.Strategy);
        Assert.Equal(probes, fields.Aggregates.Select(a => a.Probe).Distinct().Order());
        Assert.Equal(bytes, fields.Bytes);

        // Summary aggregates by probe only; the other strategies keep the line and the file descriptor.
        Assert.All(fields.Aggregates, a => Assert.Equal(strategy == "Summary", a.Line is null && a.Fd is null && a.File is null));
    }

    [Theory]
    [InlineData("Strategy", "Bogus", "IoTrace:Strategy: 'Bogus' is not a strategy. " + AllowedStrategies)]
    [InlineData("Strategy", "2", "IoTrace:Strategy: '2' is not a strategy. " + AllowedStrategies)]
    [InlineData("Backend", "Perf", "IoTrace:Backend: 'Perf' is not a backend. Allowed values: Auto, InProcess, Ebpf, DTrace, Etw.")]
    [InlineData("LogLevel", "Loud", "IoTrace:LogLevel: 'Loud' is not a log level. Allowed values: Trace, Debug, Information, Warning, Error, Critical, None.")]
    [InlineData("Enabled", "yes", "IoTrace:Enabled: 'yes' is not a boolean. Allowed values: true, false.")]
    [InlineData("MinimumBytes", "-1", "IoTrace:MinimumBytes: '-1' is not a count. Allowed values: 0 or a positive whole number.")]
    [InlineData("ExcludePaths:0", "health", "IoTrace:ExcludePaths:0: 'health' must start with '/'. " + PathPattern.Syntax + ".")]
    [InlineData("Stratgy", "All", "IoTrace:Stratgy: 'Stratgy' is not an IoTrace setting. Allowed keys: Enabled, Strategy, Formatter, LogLevel, Features, Redaction, IncludeRuntimeIo, ServerTiming, Backend, IncludePaths, ExcludePaths, SkippedNamespaces, MinimumCalls, MinimumBytes, CallBudget, ByteBudget, RepeatedOpenThreshold, ChattyIoThreshold, ChattyIoBytes, RoundTripThreshold, SamplingRatio.")]
    public async Task AddIoTrace_InvalidValueInConfiguration_StartupFailsNamingTheKeyAndAllowedValues(string key, string value, string failure)
    {
        await using var app = new TestApp { Settings = { [$"IoTrace:{key}"] = value } };

        var exception = Assert.Throws<OptionsValidationException>(() => app.CreateHttpClient());

        Assert.Equal([failure], exception.Failures);
    }

    [Fact]
    public async Task AddIoTrace_UnknownFormatterInConfiguration_StartupFailsListingTheFormatters()
    {
        await using var app = new TestApp { Settings = { ["IoTrace:Formatter"] = "pretty" } };

        var exception = Assert.Throws<OptionsValidationException>(() => app.CreateHttpClient());

        Assert.Equal([$"IoTrace:Formatter: 'pretty' is not a formatter. Allowed values: {string.Join(", ", IoTraceFormatters.Names)}."], exception.Failures);
        Assert.StartsWith("IoTrace:Formatter: 'pretty' is not a formatter. Allowed values: default, time, calls, cpu, wait, bytes, fds, files", exception.Failures.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddIoTrace_Configure_AppliesOverConfiguration()
    {
        TestFiles.Create(100);
        await using var app = new TestApp
        {
            Settings = { ["IoTrace:Strategy"] = "Read", ["IoTrace:ExcludePaths:0"] = "/health" },
            AddServices = (services, _) => services.AddIoTrace(o => o.Strategy = Strategy.Setup),
        };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/health");
        await client.GetTextAsync("/files/100");

        Assert.Equal("Setup", (await app.Logs.ReportForAsync("/files/100")).Fields().Strategy);
        Assert.Single(app.Logs.Reports);
    }

    [Fact]
    public async Task AddIoTrace_Section_BindsThatSectionInsteadOfIoTrace()
    {
        TestFiles.Create(100);
        await using var app = new TestApp
        {
            Settings = { ["IoTrace:Strategy"] = "Setup", ["Diagnostics:Tracing:Strategy"] = "Read" },
            AddServices = (services, configuration) => services.AddIoTrace().AddIoTrace(configuration.GetSection("Diagnostics:Tracing")),
        };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/files/100");

        Assert.Equal("Read", (await app.Logs.ReportForAsync("/files/100")).Fields().Strategy);
    }

    [Fact]
    public async Task AddIoTrace_InvalidValueInSection_FailureNamesTheSectionsKey()
    {
        await using var app = new TestApp
        {
            Settings = { ["Diagnostics:Tracing:Strategy"] = "Fast" },
            AddServices = (services, configuration) => services.AddIoTrace(configuration.GetSection("Diagnostics:Tracing")),
        };

        var exception = Assert.Throws<OptionsValidationException>(() => app.CreateHttpClient());

        Assert.Equal(["Diagnostics:Tracing:Strategy: 'Fast' is not a strategy. " + AllowedStrategies], exception.Failures);
    }

    [Fact]
    public void AddIoTrace_CalledAgain_RegistersTheServicesOnce()
    {
        var services = new ServiceCollection().AddIoTrace().AddIoTrace().AddIoTrace(_ => { });

        Assert.Single(services, d => d.ServiceType == typeof(IoTraceMarkerService));
        Assert.Single(services, d => d.ServiceType == typeof(IValidateOptions<IoTraceOptions>) && d.ImplementationType == typeof(IoTraceOptionsValidator));
        Assert.Single(services, d => d.ServiceType == typeof(IOptionsChangeTokenSource<IoTraceOptions>));
    }

    [Fact]
    public void AddIoTrace_WithoutConfiguration_OptionsKeepTheirDefaults()
    {
        using var provider = new ServiceCollection().AddIoTrace().BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<IoTraceOptions>>().Value;

        Assert.Equal((true, Strategy.Summary, LogLevel.Information), (options.Enabled, options.Strategy, options.LogLevel));
    }

    [Fact]
    public async Task AddIoTraceActivitySource_ClientActivitiesInARequest_CountedOnTheirLine()
    {
        // A source of this test's own: no other listener of the process hears it.
        var name = $"IoTrace.AspNetCore.Tests.Client.{Guid.NewGuid():N}";
        using var source = new ActivitySource(name);
        await using var app = new TestApp
        {
            Settings = { ["IoTrace:Strategy"] = "All" },
            AddServices = (services, _) => services.AddIoTrace().AddIoTraceActivitySource(name),
            // Asynchronous, as a client's publish is: a small synchronous handler may be inlined into ASP.NET Core's
            // generated delegate, which leaves no frame of the app to take the line from.
            MapEndpoints = endpoints => endpoints.MapGet("/publish", async () =>
            {
                await Task.Yield();
                for (var i = 0; i < 2; i++)
                {
                    _ = source.StartActivity("orders publish", ActivityKind.Producer); // the publishes
                }

                return "published";
            }),
        };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/publish");

        var row = Assert.Single((await app.Logs.ReportForAsync("/publish")).Fields().Aggregates, static a => a.Probe == "activity");
        Assert.Equal(("orders publish", 2L, SourceLines.Of("// the publishes")), (row.Target, row.Calls, row.Line ?? 0));
    }

    [Fact]
    public void AddIoTraceActivitySource_BlankName_Throws()
    {
        var services = new ServiceCollection();

        Assert.Throws<ArgumentNullException>("services", () => IoTraceServiceCollectionExtensions.AddIoTraceActivitySource(null!, "NATS.Net"));
        Assert.Throws<ArgumentException>("name", () => services.AddIoTraceActivitySource(" "));
        Assert.Empty(services);
    }

    [Fact]
    public void AddIoTrace_NullArguments_Throw()
    {
        var services = new ServiceCollection();

        Assert.Throws<ArgumentNullException>("services", () => IoTraceServiceCollectionExtensions.AddIoTrace(null!));
        Assert.Throws<ArgumentNullException>("configure", () => services.AddIoTrace((Action<IoTraceOptions>)null!));
        Assert.Throws<ArgumentNullException>("section", () => services.AddIoTrace((IConfiguration)null!));
    }
}
