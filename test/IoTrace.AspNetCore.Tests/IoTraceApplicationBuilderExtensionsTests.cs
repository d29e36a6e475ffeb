using IoTrace.AspNetCore.Filtering;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Tracing;
using Microsoft.Extensions.Options;
using Xunit;

namespace IoTrace.AspNetCore.Tests;

public sealed class IoTraceApplicationBuilderExtensionsTests
{
    [Fact]
    public void UseIoTrace_WithoutAddIoTrace_ThrowsSayingToCallIt()
    {
        using var services = new ServiceCollection().AddLogging().BuildServiceProvider();
        var app = new ApplicationBuilder(services);

        var exception = Assert.Throws<InvalidOperationException>(() => app.UseIoTrace());

        Assert.Equal("Unable to find the required services. Call 'builder.Services.AddIoTrace()' (or 'services.AddIoTrace()') before 'app.UseIoTrace()'.", exception.Message);
    }

    [Fact]
    public async Task UseIoTrace_Configure_AppliesOnTopOfConfiguration()
    {
        TestFiles.Create(100);
        await using var app = new TestApp
        {
            Settings = { ["IoTrace:Strategy"] = "Read", ["IoTrace:ExcludePaths:0"] = "/health" },
            UsePipeline = pipeline => pipeline.UseIoTrace(o => o.Strategy = Strategy.Setup),
        };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/health");
        await client.GetTextAsync("/files/100");

        var fields = (await app.Logs.ReportForAsync("/files/100")).Fields();
        Assert.Equal(("Setup", 0L), (fields.Strategy, fields.Bytes));
        Assert.Single(app.Logs.Reports);

        // The monitor's options, which other code may read, are not changed by this middleware's configure.
        Assert.Equal(Strategy.Read, app.Services.GetRequiredService<IOptionsMonitor<IoTraceOptions>>().CurrentValue.Strategy);
    }

    [Fact]
    public async Task UseIoTrace_TwoMiddlewares_EachTracesItsPathsWithItsStrategy()
    {
        TestFiles.Create(100);
        await using var app = new TestApp
        {
            UsePipeline = pipeline => pipeline
                .UseIoTrace(o => { o.Strategy = Strategy.Read; o.IncludePaths.Add("/files/*/missing"); })
                .UseIoTrace(o => { o.Strategy = Strategy.Setup; o.ExcludePaths.Add("/files/*/missing"); }),
        };
        using var client = app.CreateHttpClient();

        using (await client.GetResponseAsync("/files/100/missing"))
        {
        }

        await client.GetTextAsync("/files/100");

        var missing = (await app.Logs.ReportForAsync("/files/100/missing")).Fields();
        var found = (await app.Logs.ReportForAsync("/files/100")).Fields();
        Assert.Equal(("Read", 100L), (missing.Strategy, missing.Bytes));
        Assert.Equal(("Setup", 0L), (found.Strategy, found.Bytes));
        Assert.Equal(2, app.Logs.Reports.Count);
    }

    [Fact]
    public async Task UseIoTrace_ConfigureMakesOptionsInvalid_StartupFailsNamingTheKey()
    {
        await using var app = new TestApp { UsePipeline = pipeline => pipeline.UseIoTrace(o => o.IncludePaths.Add("/api/v*")) };

        var exception = Assert.Throws<OptionsValidationException>(() => app.CreateHttpClient());

        Assert.Equal(
            ["IoTrace:IncludePaths:0: '/api/v*' uses '*' inside a segment; '*' must be a whole segment. " + PathPattern.Syntax + "."],
            exception.Failures);
    }

    [Fact]
    public void UseIoTrace_NullArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>("app", () => IoTraceApplicationBuilderExtensions.UseIoTrace(null!));
        Assert.Throws<ArgumentNullException>("configure", () => new ApplicationBuilder(new ServiceCollection().BuildServiceProvider()).UseIoTrace(null!));
    }

    [Fact]
    public async Task UseIoTrace_TwoHostsInOneProcess_EachTracerLogsThroughItsOwnApp()
    {
        var staticLogging = IoTracer.LoggerFactory;
        await using var first = new TestApp();
        await using var second = new TestApp();

        using (first.CreateHttpClient())
        using (second.CreateHttpClient())
        {
            Assert.NotSame(first.Services.GetRequiredService<Tracer>(), second.Services.GetRequiredService<Tracer>());
        }

        // Each app hears which backend runs, and why, in its own log; the static API's logging is left as it was.
        Assert.All(new[] { first, second }, app => Assert.Single(app.Logs.Collector.GetSnapshot(), r => (r.Category, r.Id.Name) == ("IoTrace", "BackendSelected")));
        Assert.Same(staticLogging, IoTracer.LoggerFactory);
    }
}
