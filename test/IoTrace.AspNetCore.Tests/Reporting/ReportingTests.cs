using System.Text.RegularExpressions;
using IoTrace.AspNetCore.Logging;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Reporting;

/// <summary>What reads a traced request's report besides its log event: budgets and warnings, Server-Timing, wait.</summary>
public sealed partial class ReportingTests
{
    [Fact]
    public async Task InvokeAsync_OverTheAppsByteBudget_LogsOneWarningWithTheLineAndTheTable()
    {
        TestFiles.Create(4096);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read", ["IoTrace:ByteBudget"] = "1000" } };
        using var client = app.CreateHttpClient();

        var line = TestRequests.LineIn(await client.GetTextAsync("/files/4096"));

        var report = await app.Logs.ReportForAsync("/files/4096");
        var warning = Assert.Single(app.Logs.Named("IoBudgetExceeded"));
        Assert.Equal((LogLevel.Warning, 110), (warning.Level, warning.Id.Id));
        Assert.Equal(
            $"GET /files/4096 went over its IO budget: 4096 bytes > 1000; most at TestInfrastructure/TestEndpoints.cs:{line}.\n{report.Message}",
            warning.Message);
    }

    [Fact]
    public async Task InvokeAsync_EndpointWithABudgetOfItsOwn_WarnsOverItWhereTheAppHasNone()
    {
        TestFiles.Create(4096);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read" } };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/files/4096");
        await client.GetTextAsync("/files/4096/budgeted");

        await app.Logs.ReportForAsync("/files/4096/budgeted");
        var warning = Assert.Single(app.Logs.Named("IoBudgetExceeded"));
        Assert.StartsWith("GET /files/4096/budgeted went over its IO budget: 4096 bytes > 100; most at TestInfrastructure/TestEndpoints.cs:", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvokeAsync_SameFileOpenedAgainAndAgain_WarnsNamingTheFileAndTheLine()
    {
        var path = TestFiles.Create(64);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Setup", ["IoTrace:RepeatedOpenThreshold"] = "3" } };
        using var client = app.CreateHttpClient();

        for (var i = 0; i < 3; i++)
        {
            await client.GetTextAsync("/files/64");
        }

        // One request opens the file once: no warning. The endpoint below opens it four times.
        await client.GetTextAsync("/files/64/four-times");
        await app.Logs.ReportForAsync("/files/64/four-times");
        var warning = Assert.Single(app.Logs.Named("RepeatedFileOpens"));
        Assert.Matches($"^GET /files/64/four-times opened {Regex.Escape(path)} 4 times \\(the threshold is 3\\); most at TestInfrastructure/TestEndpoints.cs:[0-9]+\\.$", warning.Message);
    }

    [Fact]
    public async Task InvokeAsync_ServerTimingOn_TheResponseCarriesItsIoSoFar()
    {
        TestFiles.Create(4096);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read", ["IoTrace:ServerTiming"] = "true" } };
        using var client = app.CreateHttpClient();

        using var response = await client.GetResponseAsync("/files/4096");

        var entry = Assert.Single(response.Headers.GetValues("Server-Timing"));
        Assert.Matches("""^io;dur=[0-9]+(\.[0-9]+)?;desc="1 calls, 4096 B"$""", entry);
    }

    [Fact]
    public async Task InvokeAsync_ServerTimingOnIoAfterTheHeaders_TheTrailersCarryTheWholeRequest()
    {
        TestFiles.Create(4096);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read", ["IoTrace:ServerTiming"] = "true" } };
        using var client = app.CreateHttpClient();

        using var response = await client.GetResponseAsync("/files/4096/after-headers");
        await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Matches("""^io;dur=0;desc="0 calls, 0 B"$""", Assert.Single(response.Headers.GetValues("Server-Timing")));
        Assert.Matches("""^io;dur=[0-9]+(\.[0-9]+)?;desc="1 calls, 4096 B"$""", Assert.Single(response.TrailingHeaders.GetValues("Server-Timing")));
    }

    [Fact]
    public async Task InvokeAsync_ServerTimingOff_NoEntry()
    {
        TestFiles.Create(4096);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read" } };
        using var client = app.CreateHttpClient();

        using var response = await client.GetResponseAsync("/files/4096");

        Assert.False(response.Headers.Contains("Server-Timing"));
    }

    [Fact]
    public async Task InvokeAsync_WaitFeature_ReportsWallMinusCpuPerRowAndInAll()
    {
        TestFiles.Create(4096);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read", ["IoTrace:Features"] = "Calls, Bytes, Wait" } };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/files/4096");

        var report = await app.Logs.ReportForAsync("/files/4096");
        var read = Assert.Single(report.Fields().Aggregates);
        Assert.True(read.TimeMs >= read.CpuMs, "a call's CPU time is within its wall time");
        // Each of the three is rounded to the microsecond on its own: they agree within one.
        Assert.InRange(read.WaitMs, read.TimeMs - read.CpuMs - 0.0011, read.TimeMs - read.CpuMs + 0.0011);
        var rows = TestRequests.Rows(report.Message).Where(r => r.StartsWith("TestInfrastructure/", StringComparison.Ordinal));
        Assert.Equal(["bytes", "time", "cpu", "wait", "calls"], rows.Select(r => r.Split(' ')[4]));
        Assert.Matches(" ms waiting \\(Read, inprocess, ", report.Message);
    }
}
