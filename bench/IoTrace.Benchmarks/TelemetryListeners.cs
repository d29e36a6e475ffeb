using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using IoTrace.Attribution;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace IoTrace.Benchmarks;

/// <summary>
/// What the runtime's telemetry costs once IoTrace listens to it, for a request it does not trace: an HttpClient GET to
/// Kestrel in the same process, on loopback. IoTrace starts listening with the first trace that keeps line context, to
/// <c>System.Net.Http</c> (it needs <c>RequestStart</c>, and <c>ConnectionEstablished</c> for kernel backends: about 8
/// events per request) and to the thread pool's enqueue and dequeue events (two per work item), and the sources then
/// write them for the whole process, traced or not, until no trace with line context has run for
/// <see cref="ListeningWhileTraced.IdleDelay"/>. Each state in its own process, since the listeners are process-wide.
/// </summary>
[MemoryDiagnoser]
public class TelemetryListeners : IDisposable
{
    private WebApplication? _server;
    private HttpClient? _client;

    /// <summary>Which listener: HttpClient's, the thread pool's, or both as a trace with line context starts them.</summary>
    [Params("HttpClient", "ThreadPool", "Both")]
    public string Listener { get; set; } = "Both";

    [GlobalSetup(Target = nameof(NotListening))]
    public void SetupNotListening() => Start();

    [GlobalSetup(Target = nameof(Listening))]
    public void SetupListening()
    {
        Start();

        // As while a trace with line context runs somewhere in the process (none ever stops here).
        TraceStarted();
    }

    [GlobalSetup(Target = nameof(StoppedAfterIdle))]
    public void SetupStoppedAfterIdle()
    {
        Start();
        TraceStarted();
        if (Listener != "ThreadPool")
        {
            HttpClientCallSites.OnContextTraceStopped();
        }

        if (Listener != "HttpClient")
        {
            ThreadPoolCallSites.OnContextTraceStopped();
        }

        // What the listeners' timers do once no trace with line context ran for their idle delay.
        var idle = Stopwatch.GetTimestamp() + (long)((ListeningWhileTraced.IdleDelay + TimeSpan.FromSeconds(1)).TotalSeconds * Stopwatch.Frequency);
        Trace.Assert(Listener == "ThreadPool" || HttpClientCallSites.StopIfIdle(idle));
        Trace.Assert(Listener == "HttpClient" || ThreadPoolCallSites.StopIfIdle(idle));
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

    /// <summary>No IoTrace in the process: the telemetry writes nothing.</summary>
    [Benchmark(Baseline = true)]
    public Task<string> NotListening() => _client!.GetStringAsync("/");

    /// <summary>IoTrace listening, as while a trace with line context runs; this request not traced.</summary>
    [Benchmark]
    public Task<string> Listening() => _client!.GetStringAsync("/");

    /// <summary>IoTrace stopped listening: no trace with line context for its idle delay (10 s).</summary>
    [Benchmark]
    public Task<string> StoppedAfterIdle() => _client!.GetStringAsync("/");

    private void TraceStarted()
    {
        if (Listener != "ThreadPool")
        {
            HttpClientCallSites.OnContextTraceStarted();
        }

        if (Listener != "HttpClient")
        {
            ThreadPoolCallSites.OnContextTraceStarted();
        }
    }

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
