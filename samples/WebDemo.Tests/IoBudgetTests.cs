using IoTrace;
using IoTrace.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace WebDemo.Tests;

/// <summary>
/// IO budgets for the demo's endpoints, as a team would write them: each request's IO, traced by the app's own
/// middleware and collected for the test, must stay within what the endpoint needs. A change that makes a request read a
/// file twice, or call its upstream in a loop, fails here with the table and the line that went over.
/// </summary>
public sealed class IoBudgetTests(IoBudgetTests.DemoApp app) : IClassFixture<IoBudgetTests.DemoApp>
{
    private IoTraceCollector Collector => app.Services.GetRequiredService<IoTraceCollector>();

    [Fact]
    public async Task Read_OneFileReadAndOneUpstreamResponse()
    {
        using var client = app.CreateClient();

        await client.GetStringAsync(new Uri("/read", UriKind.Relative), TestContext.Current.CancellationToken);

        var record = await Collector.WaitForRecordAsync("/read", TestContext.Current.CancellationToken);
        new IoBudget()
            .MaxCalls(IoTargetKind.File, 2)       // motd.txt: its read, and the read that finds its end
            .MaxBytes(IoTargetKind.File, 1_024)
            .MaxCalls(IoTargetKind.Socket, 4)     // the upstream's response
            .Check(record.Report);
    }

    [Fact]
    public async Task Sqlite_OneInsertAndOneCountInTheDatabaseFile()
    {
        using var client = app.CreateClient();

        await client.GetStringAsync(new Uri("/sqlite", UriKind.Relative), TestContext.Current.CancellationToken);

        var record = await Collector.WaitForRecordAsync("/sqlite", TestContext.Current.CancellationToken);
        new IoBudget()
            .MaxCalls("openat", 4)                // the database, its journal, the directory
            .MaxCalls("pwrite64", 12)
            .MaxBytes(IoTargetKind.File, 64 * 1024)
            .MaxCalls(IoTargetKind.Socket, 0)
            .Check(record.Report);
    }

    /// <summary>The demo app with a collector for its reports.</summary>
    public sealed class DemoApp : WebApplicationFactory<Program>
    {
        public DemoApp()
        {
            // The demo calls its own /upstream over loopback: a real Kestrel, on a free port.
            UseKestrel(0);
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting(WebHostDefaults.ServerUrlsKey, "http://127.0.0.1:0");
            builder.ConfigureTestServices(services => services.AddIoTraceCollector());
        }
    }
}
