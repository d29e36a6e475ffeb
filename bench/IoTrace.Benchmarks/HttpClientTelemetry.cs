using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using IoTrace.Attribution;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace IoTrace.Benchmarks;

/// <summary>
/// What HttpClient's telemetry costs once IoTrace listens to it: an HttpClient GET to Kestrel in the same process, on
/// loopback. IoTrace starts listening to <c>System.Net.Http</c>'s events with the first trace that keeps line context
/// (it needs <c>RequestStart</c>, and <c>ConnectionEstablished</c> for kernel backends), and the source then writes
/// all its events, about 8 per request, for every request of the process, traced or not, until no trace with line
/// context has run for <see cref="HttpClientCallSites.IdleDelay"/>. Each state in its own process, since the
/// listener is process-wide.
/// </summary>
[MemoryDiagnoser]
public class HttpClientTelemetry : IDisposable
{
    private WebApplication? _server;
    private HttpClient? _client;

    [GlobalSetup(Target = nameof(NotListening))]
    public void SetupNotListening() => Start();

    [GlobalSetup(Target = nameof(Listening))]
    public void SetupListening()
    {
        Start();

        // As while a trace with line context runs somewhere in the process (none ever stops here).
        HttpClientCallSites.OnContextTraceStarted();
    }

    [GlobalSetup(Target = nameof(StoppedAfterIdle))]
    public void SetupStoppedAfterIdle()
    {
        Start();
        HttpClientCallSites.OnContextTraceStarted();
        HttpClientCallSites.OnContextTraceStopped();

        // What the listener's timer does once no trace with line context ran for its idle delay.
        var idle = (long)((HttpClientCallSites.IdleDelay + TimeSpan.FromSeconds(1)).TotalSeconds * Stopwatch.Frequency);
        Trace.Assert(HttpClientCallSites.StopIfIdle(Stopwatch.GetTimestamp() + idle));
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _client?.Dispose();
        _client = null;
        _server?.StopAsync().GetAwaiter().GetResult();
        _server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server = null;
        GC.SuppressFinalize(this);
    }

    /// <summary>No IoTrace in the process: HttpClient's telemetry writes nothing.</summary>
    [Benchmark(Baseline = true)]
    public Task<string> NotListening() => _client!.GetStringAsync("/");

    /// <summary>IoTrace listening to <c>System.Net.Http</c>, as while a trace with line context runs; this request not traced.</summary>
    [Benchmark]
    public Task<string> Listening() => _client!.GetStringAsync("/");

    /// <summary>IoTrace stopped listening: no trace with line context for its idle delay (10 s).</summary>
    [Benchmark]
    public Task<string> StoppedAfterIdle() => _client!.GetStringAsync("/");

    private void Start()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _server = builder.Build();
        _server.MapGet("/", () => "ok");
        _server.StartAsync().GetAwaiter().GetResult();
        _client = new HttpClient { BaseAddress = new Uri(_server.Urls.First()) };
        Trace.Assert(_client.GetStringAsync("/").GetAwaiter().GetResult() == "ok");
    }
}
