using BenchmarkDotNet.Attributes;
using IoTrace.Attribution;

namespace IoTrace.Benchmarks;

/// <summary>
/// What the thread pool's events cost per work item while IoTrace listens to them (a trace with line context runs in the
/// process, in process): a work item queued and awaited, 64 per invocation, not traced; and in a trace of its own with
/// Summary (which does not listen) and with All (which listens, and looks up the line that queued each item). Each state
/// in its own process, since the listener is process-wide.
/// </summary>
[MemoryDiagnoser]
public class ThreadPoolTelemetry
{
    private const int WorkItems = 64;

    [GlobalSetup(Target = nameof(Listening))]
    public void SetupListening()
    {
        ThreadPoolCallSites.OnContextTraceStarted();
        ThreadPoolCallSites.FirstEventSinceEnabled.GetAwaiter().GetResult();
    }

#pragma warning disable CA1822 // BenchmarkDotNet measures instance methods.
    /// <summary>No IoTrace in the process: the thread pool writes no events.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = WorkItems)]
    public Task NotListening() => QueueAndAwaitAsync();

    /// <summary>IoTrace listening, as while a trace with line context runs somewhere in the process; these items not traced.</summary>
    [Benchmark(OperationsPerInvoke = WorkItems)]
    public Task Listening() => QueueAndAwaitAsync();

    /// <summary>The items in a Summary trace (started and stopped once per 64 items): no thread pool events.</summary>
    [Benchmark(OperationsPerInvoke = WorkItems)]
    public Task InSummaryTrace() => TracedAsync(Strategy.Summary);

    /// <summary>The items in an All trace: each queued from a line of this flow, which goes with it.</summary>
    [Benchmark(OperationsPerInvoke = WorkItems)]
    public Task InAllTrace() => TracedAsync(Strategy.All);
#pragma warning restore CA1822

    private static async Task TracedAsync(Strategy strategy)
    {
        using var scope = IoTracer.Start(strategy);
        await QueueAndAwaitAsync();
        scope.Stop();
    }

    private static async Task QueueAndAwaitAsync()
    {
        for (var i = 0; i < WorkItems; i++)
        {
            await Task.Run(static () => { });
        }
    }
}
