using System.Net;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.AspNetCore.Tests.UnderLoad;

/// <summary>
/// Concurrent requests never see each other's IO, checked under load: 64 clients on their own connections to a real
/// Kestrel on 127.0.0.1, thousands of requests traced with All, each reading the file whose size names it. Every
/// single report must hold exactly its own file's calls, bytes and target, and nothing else.
/// </summary>
public sealed class IsolationUnderLoadTests
{
    private const int Clients = 64;
    private const int RequestsPerClient = 128;
    private const int Requests = Clients * RequestsPerClient;

    // Sizes 1_000 to 9_191: one file per request, so a call charged to the wrong request changes two reports.
    private const int FirstSize = 1_000;

    [Fact]
    public async Task InvokeAsync_64ClientsSendingThousandsOfRequests_EveryReportHoldsExactlyItsOwnFile()
    {
        Requires.Linux();
        var sizes = Enumerable.Range(FirstSize, Requests).ToArray();
        foreach (var size in sizes)
        {
            TestFiles.Create(size);
        }

        await using var app = new TestApp
        {
            Settings = { ["IoTrace:Strategy"] = "All" },

            // Hosting's per-request logs would triple what the collector stores: only the reports matter here.
            ConfigureLogging = logging => logging.AddFilter("Microsoft", LogLevel.Warning),
        }.UseLoopbackKestrel();
        var clients = Enumerable.Range(0, Clients).Select(_ => app.CreateHttpClient()).ToArray();
        var bodies = new string[Requests];
        try
        {
            // Client c sends requests c, c + 64, c + 128, ...: at any moment 64 neighbouring sizes are in flight.
            await Task.WhenAll(clients.Select(async (client, c) =>
            {
                for (var i = c; i < Requests; i += Clients)
                {
                    using var response = await client.GetResponseAsync($"/files/{sizes[i]}");
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    bodies[i] = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
                }
            }));
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }

        await app.Logs.WaitForReportsAsync(Requests);
        var reports = app.Logs.Reports;
        Assert.Equal(Requests, reports.Count);
        var byPath = reports.Select(r => r.Fields()).ToDictionary(f => f.Path);
        var misattributed = new List<string>();
        for (var i = 0; i < Requests; i++)
        {
            var problem = FileReadReports.Mismatch(app, sizes[i], bodies[i], byPath[$"/files/{sizes[i]}"]);
            if (problem is not null)
            {
                misattributed.Add(problem);
            }
        }

        Assert.True(
            misattributed.Count == 0,
            $"{misattributed.Count} of {Requests} reports do not hold exactly their own file's IO:{Environment.NewLine}{string.Join(Environment.NewLine, misattributed.Take(20))}");
    }
}
