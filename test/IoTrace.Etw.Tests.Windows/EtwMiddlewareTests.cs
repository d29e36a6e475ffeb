using IoTrace.AspNetCore;
using IoTrace.Etw.Tests.Windows.TestSupport;
using IoTrace.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace IoTrace.Etw.Tests.Windows;

/// <summary>Requests served by Kestrel on 127.0.0.1 with the ETW backend: concurrent requests never mix.</summary>
[Collection(typeof(EtwTracing))]
public sealed class EtwMiddlewareTests(EtwFixture fixture) : IDisposable
{
    private const int Requests = 32;

    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-etw-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Requests_ThirtyTwoAtOnce_EachReportHasItsOwnFileAndBytesOnly()
    {
        fixture.Require();
        for (var i = 1; i <= Requests; i++)
        {
            await File.WriteAllBytesAsync(FileOf(i), new byte[i * 1000], TestContext.Current.CancellationToken);
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddIoTrace(o => (o.Strategy, o.Backend) = (Strategy.Read, IoTraceBackend.Etw)).AddEtwBackend().AddIoTraceCollector();
        await using var app = builder.Build();
        app.UseIoTrace();
        app.MapGet("/read/{n:int}", (int n) => Results.Ok(File.ReadAllBytes(FileOf(n)).Length));
        await app.StartAsync(TestContext.Current.CancellationToken);
        var collector = app.Services.GetRequiredService<IoTraceCollector>();

        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        await Task.WhenAll(Enumerable.Range(1, Requests).Select(i => client.GetStringAsync($"/read/{i}", TestContext.Current.CancellationToken)));

        for (var i = 1; i <= Requests; i++)
        {
            var record = await collector.WaitForRecordAsync($"/read/{i}", TestContext.Current.CancellationToken);
            var reads = record.Report.Aggregates.Where(a => a.Probe == "FileIO/Read" && a.Target?.EndsWith(".bin", StringComparison.Ordinal) == true).ToList();
            Assert.Equal([(FileOf(i), i * 1000L)], reads.GroupBy(a => a.Target).Select(g => (g.Key!, g.Sum(a => a.Bytes))));
            Assert.True(record.Report.IsComplete);
        }

        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    private string FileOf(int n) => Path.Combine(_directory, $"{n}.bin");
}
