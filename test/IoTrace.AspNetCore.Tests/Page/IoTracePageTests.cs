using System.Diagnostics;
using System.Net;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Page;

/// <summary>The page of the last traced requests: over HTTP, and in a real headless browser (Debian's Chromium).</summary>
public sealed class IoTracePageTests
{
    [Fact]
    public async Task MapIoTracePage_InDevelopment_ShowsEachRequestsLinesWithBars()
    {
        TestFiles.Create(4096);
        await using var app = PageApp(Environments.Development);
        using var client = app.CreateHttpClient();
        var line = TestRequests.LineIn(await client.GetTextAsync("/files/4096"));
        await app.Logs.ReportForAsync("/files/4096");

        using var page = await client.GetResponseAsync("/iotrace");
        var html = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal((HttpStatusCode.OK, "text/html"), (page.StatusCode, page.Content.Headers.ContentType?.MediaType));
        Assert.Contains("<section class=\"request\" data-route=\"/files/{size:int}\" data-strategy=\"Read\"><h2>GET /files/4096 ", html, StringComparison.Ordinal);
        Assert.Contains($"<tr><td>TestInfrastructure/TestEndpoints.cs:{line}</td><td>pread64 1</td><td class=\"n\">1</td><td class=\"n\"><span class=\"bar bytes\" style=\"width:6em\"></span>4096</td>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script src", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<link", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MapIoTracePage_OutsideDevelopment_NotFound()
    {
        await using var app = PageApp(Environments.Production);
        using var client = app.CreateHttpClient();

        using var page = await client.GetResponseAsync("/iotrace");

        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
    }

    [Theory]
    [InlineData(false, HttpStatusCode.Forbidden)]
    [InlineData(true, HttpStatusCode.OK)]
    public async Task MapIoTracePage_ConnectionFromAnotherMachine_ForbiddenUnlessAllowed(bool allowRemote, HttpStatusCode expected)
    {
        await using var app = new TestApp
        {
            AddServices = (services, _) => services.AddIoTrace().AddIoTracePage(o => o.AllowRemote = allowRemote),
            UsePipeline = pipeline =>
            {
                // TestServer's connections have no address; this one comes from a documentation network (RFC 5737).
                pipeline.Use((context, next) =>
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.10");
                    return next(context);
                });
                pipeline.UseIoTrace();
            },
            MapEndpoints = endpoints => endpoints.MapIoTracePage(),
        };
        using var client = app.CreateHttpClient();

        using var page = await client.GetResponseAsync("/iotrace");

        Assert.Equal(expected, page.StatusCode);
    }

    [Fact]
    public async Task MapIoTracePage_InAHeadlessBrowser_FiltersByStrategyFromTheLink()
    {
        var chromium = Requires.Chromium();
        TestFiles.Create(4096);
        await using var app = PageApp(Environments.Development).UseLoopbackKestrel();
        using var client = app.CreateHttpClient();
        await client.GetTextAsync("/files/4096");
        await client.GetTextAsync("/files/4096/setup");
        await app.Logs.WaitForReportsAsync(2);
        var page = new Uri(client.BaseAddress!, "/iotrace?strategy=Setup");
        var screenshot = Path.Combine(TestFiles.ProjectDirectory, "..", "..", "artifacts", "iotrace-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);

        var dom = await Chromium(chromium, "--dump-dom", page.ToString());
        await Chromium(chromium, $"--screenshot={screenshot}", "--window-size=1100,700", page.ToString());

        // The script ran: the filter took the link's strategy and hid the other request.
        Assert.Contains("<section class=\"request\" data-route=\"/files/{size:int}\" data-strategy=\"Read\" hidden=\"\">", dom, StringComparison.Ordinal);
        Assert.Contains("<section class=\"request\" data-route=\"/files/{size:int}/setup\" data-strategy=\"Setup\"><h2>", dom, StringComparison.Ordinal);
        Assert.True(new FileInfo(screenshot).Length > 10_000, "the browser wrote a screenshot of the page");
    }

    private static TestApp PageApp(string environment) => new()
    {
        Environment = environment,
        Settings = { ["IoTrace:Strategy"] = "Read" },
        AddServices = (services, _) => services.AddIoTrace().AddIoTracePage(),
        MapEndpoints = endpoints => endpoints.MapIoTracePage(),
    };

    /// <summary>Runs headless Chromium on <paramref name="arguments"/> and returns what it printed.</summary>
    private static async Task<string> Chromium(string chromium, params string[] arguments)
    {
        var profile = Directory.CreateTempSubdirectory("iotrace-chromium-");
        try
        {
            var start = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", $"--user-data-dir={profile.FullName}", .. arguments])
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {await errors}");
            return await output;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
