using System.Runtime.CompilerServices;
using IoTrace.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace IoTrace.Testing.Tests;

/// <summary>The collector in a real app on Kestrel (127.0.0.1), with the in-process backend and real file reads.</summary>
public sealed class IoTraceCollectorTests : IAsyncDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"iotrace-collector-{Guid.NewGuid():N}.bin");
    private readonly FakeLogCollector _logs = new();
    private WebApplication? _app;

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        File.Delete(_file);
    }

    [Fact]
    public async Task WaitForRecordAsync_RequestThatReadsAFile_GivesItsReportForABudget()
    {
        Requires.Linux();
        var collector = await StartAsync(("IoTrace:Strategy", "Read"));
        using var client = Client();

        var body = await client.GetStringAsync("/read/1", TestContext.Current.CancellationToken);

        var record = await collector.WaitForRecordAsync("/read/1", TestContext.Current.CancellationToken);
        Assert.Equal(("GET", "/read/1", "/read/{n:int}", 200), (record.Method, record.Path, record.Route, record.StatusCode));
        var read = Assert.Single(record.Report.Aggregates);
        Assert.Equal(("pread64", _file, 4_096L, IoTargetKind.File, ReadLine), (read.Probe, read.Target, read.Bytes, read.TargetKind, read.Line!.Value));
        Assert.Equal("4096", body);
        new IoBudget().MaxCalls(1).MaxBytes(IoTargetKind.File, 4_096).Check(record.Report);
        var exceeded = Assert.Throws<IoBudgetExceededException>(() => new IoBudget().MaxBytes(4_000).Check(record.Report));
        Assert.StartsWith($"The IO budget was exceeded:\n  bytes: 4096 > 4000; most at {read.Location} (4096 bytes)\n", exceeded.Message.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Collector_RequestsUnderTheLogsThreshold_AreCollectedButNotLogged()
    {
        Requires.Linux();
        var collector = await StartAsync(("IoTrace:Strategy", "Read"), ("IoTrace:MinimumCalls", "1000"));
        using var client = Client();

        await client.GetStringAsync("/read/1", TestContext.Current.CancellationToken);
        await client.GetStringAsync("/read/2", TestContext.Current.CancellationToken);

        await collector.WaitForRecordAsync("/read/1", TestContext.Current.CancellationToken);
        await collector.WaitForRecordAsync(r => r.Path == "/read/2", TestContext.Current.CancellationToken);
        Assert.Equal([1L, 1L], collector.GetSnapshot().Select(r => r.Report.TotalCalls));
        Assert.DoesNotContain(_logs.GetSnapshot(), r => r.Id.Name == "RequestTraced");
        Assert.Equal(2, collector.GetSnapshot(clear: true).Count);
        Assert.Equal(0, collector.Count);
    }

    [Fact]
    public async Task WaitForRecordAsync_NoSuchRequest_TimesOutNamingWhatWasTraced()
    {
        Requires.Linux();
        var collector = await StartAsync(("IoTrace:Strategy", "Read"));
        collector.WaitTimeout = TimeSpan.FromMilliseconds(200);
        using var client = Client();
        await client.GetStringAsync("/read/1", TestContext.Current.CancellationToken);
        await collector.WaitForRecordAsync("/read/1", TestContext.Current.CancellationToken);

        var exception = await Assert.ThrowsAsync<TimeoutException>(() => collector.WaitForRecordAsync("/other", TestContext.Current.CancellationToken));

        Assert.Equal("No traced request matched within 0.2 s; traced: GET /read/1 (200): 1 calls, 4096 bytes.", exception.Message);
    }

    [Fact]
    public void LatestRecord_NothingTraced_Throws() =>
        Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddIoTraceCollector().BuildServiceProvider().GetRequiredService<IoTraceCollector>().LatestRecord);

    private static int ReadLine { get; set; }

    private async Task<IoTraceCollector> StartAsync(params (string Key, string Value)[] settings)
    {
        File.WriteAllBytes(_file, new byte[4_096]);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(_logs));
        builder.Configuration.AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        builder.Services.AddIoTrace().AddIoTraceCollector();
        _app = builder.Build();
        _app.UseRouting();
        _app.UseIoTrace();
        _app.MapGet("/read/{n:int}", (int n) => Read(_file));
        await _app.StartAsync(TestContext.Current.CancellationToken);
        return _app.Services.GetRequiredService<IoTraceCollector>();
    }

    private HttpClient Client() => new() { BaseAddress = new Uri(_app!.Urls.First()) };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string Read(string path)
    {
        var (bytes, line) = (File.ReadAllBytes(path).Length, Line());
        ReadLine = line;
        return bytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static int Line([CallerLineNumber] int line = 0) => line;
}
