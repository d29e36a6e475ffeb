using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using IoTrace.Clients;

namespace IoTrace.Benchmarks;

/// <summary>
/// What a client's activities cost per operation while IoTrace listens to their source (while traces run, and for 10 s
/// after the last): a client that asks for one per publish as NATS.Net does (its server's 11 tags built only when the source
/// has listeners), 64 publishes per invocation; not traced, and in a trace of their own with Summary and with All (which
/// looks up each publish's line). Each state in its own process, since the listener is process-wide.
/// </summary>
[MemoryDiagnoser]
public class ClientActivityTelemetry
{
    private const int Publishes = 64;
    private const string SourceName = "IoTrace.Benchmarks.Client";

    private static readonly ActivitySource s_source = new(SourceName);

    [GlobalSetup(Targets = [nameof(Listening), nameof(InSummaryTrace), nameof(InAllTrace)])]
    public void SetupListening()
    {
        IoTracer.AddActivitySource(SourceName);
        ClientActivities.OnTraceStarted();
    }

#pragma warning disable CA1822 // BenchmarkDotNet measures instance methods.
    /// <summary>No IoTrace in the process: the source has no listener, and the client builds nothing.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Publishes)]
    public void NotListening() => Publish();

    /// <summary>IoTrace listening, as while a trace runs somewhere in the process; these publishes not traced.</summary>
    [Benchmark(OperationsPerInvoke = Publishes)]
    public void Listening() => Publish();

    /// <summary>The publishes in a Summary trace (started and stopped once per 64 publishes): counted, no line.</summary>
    [Benchmark(OperationsPerInvoke = Publishes)]
    public void InSummaryTrace() => Traced(Strategy.Summary);

    /// <summary>The publishes in an All trace: each counted on its line.</summary>
    [Benchmark(OperationsPerInvoke = Publishes)]
    public void InAllTrace() => Traced(Strategy.All);
#pragma warning restore CA1822

    private static void Traced(Strategy strategy)
    {
        using var scope = IoTracer.Start(strategy);
        Publish();
        scope.Stop();
    }

    private static void Publish()
    {
        for (var i = 0; i < Publishes; i++)
        {
            if (!s_source.HasListeners())
            {
                continue;
            }

            KeyValuePair<string, object?>[] tags =
            [
                new("messaging.system", "nats"), new("messaging.operation.type", "publish"), new("messaging.destination.name", "orders"),
                new("messaging.client.id", "1"), new("server.address", "127.0.0.1"), new("server.port", 4222),
                new("network.protocol.name", "nats"), new("network.transport", "tcp"), new("network.peer.address", "127.0.0.1"),
                new("network.peer.port", 4222), new("network.local.address", "127.0.0.1"),
            ];
            using var activity = s_source.StartActivity("orders publish", ActivityKind.Producer, default(ActivityContext), tags);
        }
    }
}
