using System.Diagnostics;
using BenchmarkDotNet.Attributes;

namespace IoTrace.Benchmarks;

/// <summary>
/// The cost the in-process backend adds to one IO call, in each state a process can be in. Every benchmark
/// runs in its own process, so a state never leaks into another; the Ratio column is the state's time over
/// <see cref="Untraced"/>'s, measured in the same run.
/// </summary>
[MemoryDiagnoser]
public abstract class IoCallOverhead
{
    /// <summary>IO operations per benchmark invocation, so the loop and the invocation cost little per call.</summary>
    protected const int Operations = 64;

    private const IoTraceFeatures NoCpu = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time;

    private IoTraceScope? _scope;
    private IoTraceScope? _otherFlow;

    /// <summary>IO calls one operation makes (a socket round trip makes two).</summary>
    protected abstract int CallsPerOperation { get; }

    /// <summary>Opens the file or sockets the operation uses.</summary>
    protected abstract void Open();

    /// <summary>Closes what <see cref="Open"/> opened.</summary>
    protected abstract void Close();

    /// <summary>One operation: the IO calls being measured.</summary>
    protected abstract long Operation();

    [GlobalSetup(Target = nameof(Untraced))]
    public void SetupUntraced() => Open();

    [GlobalSetup(Target = nameof(HooksInstalled_NoTrace))]
    public void SetupHooksInstalled()
    {
        Open();
        UseInProcess();
        // Installs the hooks for the process, then leaves no trace running: trampolines fall straight through.
        IoTracer.Trace(Strategy.Summary, static () => { });
    }

    [GlobalSetup(Target = nameof(OtherFlowTraced))]
    public void SetupOtherFlowTraced()
    {
        Open();
        UseInProcess();

        // A trace that stays active in another async flow (a request being traced elsewhere): every hooked
        // call enters managed code and finds that its own flow is not traced.
        _otherFlow = Task.Run(static () => IoTracer.Start(Strategy.All)).GetAwaiter().GetResult();
    }

    [GlobalSetup(Target = nameof(Summary))]
    public void SetupSummary() => StartTrace(Strategy.Summary, IoTraceFeatures.All);

    [GlobalSetup(Target = nameof(Summary_NoCpu))]
    public void SetupSummaryNoCpu() => StartTrace(Strategy.Summary, NoCpu);

    [GlobalSetup(Target = nameof(Summary_CallsBytes))]
    public void SetupSummaryCallsBytes() => StartTrace(Strategy.Summary, IoTraceFeatures.Calls | IoTraceFeatures.Bytes);

    [GlobalSetup(Target = nameof(All))]
    public void SetupAll() => StartTrace(Strategy.All, IoTraceFeatures.All);

    [GlobalSetup(Target = nameof(All_NoCpu))]
    public void SetupAllNoCpu() => StartTrace(Strategy.All, NoCpu);

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_scope is not null)
        {
            // Proof that the measured calls were traced: a benchmark whose trace saw nothing is not valid.
            var report = _scope.Stop();
            Console.WriteLine($"// {report.Strategy} trace ({report.Features}): {report.TotalCalls} calls");
            foreach (var a in report.Aggregates.Where(a => a.Calls >= Operations))
            {
                Console.WriteLine($"//   {a.Probe} x{a.Calls} at {a.Location} fd {a.Fd} {a.Target}");
            }

            Trace.Assert(report.TotalCalls >= Operations * CallsPerOperation, "the benchmark's IO was not traced");
        }

        if (_otherFlow is not null)
        {
            var report = _otherFlow.Stop();
            Console.WriteLine($"// trace of the other flow: {report.TotalCalls} calls");
            Trace.Assert(report.TotalCalls == 0, "the other flow's trace saw this flow's IO");
        }

        Close();
    }

    /// <summary>No IoTrace in the process at all.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Operations)]
    public long Untraced() => Run();

    /// <summary>Hooks installed, no trace running anywhere.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long HooksInstalled_NoTrace() => Run();

    /// <summary>Untraced code while another flow is traced: the cost outside a trace.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long OtherFlowTraced() => Run();

    /// <summary>Inside a Summary trace, default features (calls, bytes, time, cpu).</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long Summary() => Run();

    /// <summary>Inside a Summary trace without the thread CPU clock.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long Summary_NoCpu() => Run();

    /// <summary>Inside a Summary trace counting calls and bytes only: the hook's floor.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long Summary_CallsBytes() => Run();

    /// <summary>Inside an All trace, default features, call site warm.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long All() => Run();

    /// <summary>Inside an All trace without the thread CPU clock, call site warm.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long All_NoCpu() => Run();

    private void StartTrace(Strategy strategy, IoTraceFeatures features)
    {
        Open();
        UseInProcess();
        _scope = IoTracer.Start(strategy, new IoTraceStartOptions { Features = features });
        // Warm the call-site cache: the first call from a line resolves it with a StackTrace.
        Run();
    }

    /// <summary>
    /// The in-process backend, by name: this project also references IoTrace.Ebpf, which <c>auto</c> picks when
    /// the process is root and libbpf is installed (<see cref="EbpfCallOverhead"/> measures that one).
    /// </summary>
    private static void UseInProcess()
    {
        if (!IoTracer.TryEnable("inprocess", out var reason))
        {
            throw new InvalidOperationException($"the in-process backend cannot run here: {reason}");
        }
    }

    private long Run()
    {
        long total = 0;
        for (var i = 0; i < Operations; i++)
        {
            total += Operation();
        }

        return total;
    }
}
