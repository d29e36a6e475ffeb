using System.Diagnostics;
using System.Runtime.Versioning;
using BenchmarkDotNet.Attributes;

namespace IoTrace.Benchmarks;

/// <summary>
/// The cost the eBPF backend adds to one IO call. Its kernel program runs at every system call of the process, traced
/// or not, so besides the traced states this measures an untraced call while it is attached: what code outside any
/// trace pays. Every benchmark runs in its own process; each non-baseline state attaches the program once in its
/// global setup (<c>IoTracer.TryEnable("ebpf")</c>) and detaches it in the cleanup.
/// </summary>
/// <remarks>
/// Only the calling thread's time is measured. The rest of the backend's work runs elsewhere and is not in these
/// figures: the flush thread reads the kernel maps every 20 to 100 ms, and the app resolves the stacks of
/// each flush on a background thread. bench/load measures it all, as CPU per request.
/// </remarks>
[MemoryDiagnoser]
[SupportedOSPlatform("linux")]
public abstract class EbpfCallOverhead
{
    /// <summary>IO operations per benchmark invocation, so the loop and the invocation cost little per call.</summary>
    protected const int Operations = 64;

    private IIoOperation? _operation;
    private IoTraceScope? _scope;
    private IoTraceScope? _otherFlow;

    /// <summary>Creates the operation measured (opens its file or sockets).</summary>
    private protected abstract IIoOperation CreateOperation();

    [GlobalSetup(Target = nameof(Untraced))]
    public void SetupUntraced() => _operation = CreateOperation();

    [GlobalSetup(Target = nameof(Attached_NoTrace))]
    public void SetupAttached()
    {
        _operation = CreateOperation();
        Attach();
    }

    [GlobalSetup(Target = nameof(Attached_OtherFlowTraced))]
    public void SetupOtherFlowTraced()
    {
        _operation = CreateOperation();
        Attach();

        // A trace that stays active in another async flow (a request traced elsewhere in the process).
        _otherFlow = Task.Run(static () => IoTracer.Start(Strategy.All)).GetAwaiter().GetResult();
        RequireKernel(_otherFlow);
    }

    [GlobalSetup(Target = nameof(Summary))]
    public void SetupSummary() => StartTrace(Strategy.Summary);

    [GlobalSetup(Target = nameof(All))]
    public void SetupAll() => StartTrace(Strategy.All);

    [GlobalCleanup]
    public void Cleanup()
    {
        var calls = _operation?.Calls ?? 1;
        if (_scope is not null)
        {
            // Proof that the measured calls were traced in the kernel: a benchmark whose trace saw nothing is not valid.
            var report = _scope.Stop();
            Console.WriteLine($"// {report.Strategy} trace on {report.Backend}: {report.TotalCalls} calls, complete {report.IsComplete}");
            foreach (var a in report.Aggregates.Where(a => a.Calls >= Operations))
            {
                Console.WriteLine($"//   {a.Probe} x{a.Calls} at {a.Location} fd {a.Fd} {a.Target}");
            }

            Trace.Assert(report.Backend == "ebpf", $"the trace ran on {report.Backend}, not ebpf");
            Trace.Assert(report.TotalCalls >= Operations * calls, "the benchmark's IO was not traced");
        }

        if (_otherFlow is not null)
        {
            var report = _otherFlow.Stop();
            Console.WriteLine($"// trace of the other flow on {report.Backend}: {report.TotalCalls} calls");
            Trace.Assert(report.TotalCalls == 0, "the other flow's trace saw this flow's IO");
        }

        _operation?.Dispose();

        // Detach (the kernel would also detach the program when the process exits).
        IoTracer.Disable();
    }

    /// <summary>No IoTrace in the process, no program attached.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Operations)]
    public long Untraced() => Run();

    /// <summary>The program attached, no trace running: the cost for code outside traces.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long Attached_NoTrace() => Run();

    /// <summary>The program attached, an All trace active in another async flow, this flow untraced.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long Attached_OtherFlowTraced() => Run();

    /// <summary>Inside a Summary trace counted in the kernel (default features; the kernel measures them all anyway).</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long Summary() => Run();

    /// <summary>Inside an All trace counted in the kernel: fd, target and the user stack walked per call.</summary>
    [Benchmark(OperationsPerInvoke = Operations)]
    public long All() => Run();

    private static void Attach()
    {
        if (!KernelBenchBackend.TryAttach("ebpf", out var reason))
        {
            throw new InvalidOperationException($"the eBPF backend cannot run here: {reason}");
        }
    }

    private static void RequireKernel(IoTraceScope scope)
    {
        // TryEnable returned once attached, so a trace started now runs in the kernel; a fallback would measure the wrong backend.
        if (IoTracer.BackendName != "ebpf")
        {
            scope.Stop();
            throw new InvalidOperationException($"the process runs '{IoTracer.BackendName}', not ebpf");
        }
    }

    private void StartTrace(Strategy strategy)
    {
        _operation = CreateOperation();
        Attach();

        // A trace of the same calls first, stopped: its flush resolves their stacks (JIT map, PDB lines), and the
        // kernel then stops walking them where their app frame is. What a server's earlier requests would have done.
        var warmUp = IoTracer.Start(strategy);
        RequireKernel(warmUp);
        Run();
        _ = warmUp.Stop();

        _scope = IoTracer.Start(strategy);
        RequireKernel(_scope);
    }

    private long Run()
    {
        var operation = _operation!;
        long total = 0;
        for (var i = 0; i < Operations; i++)
        {
            total += operation.Run();
        }

        return total;
    }
}

/// <summary><see cref="FileReadOverhead"/>'s operation (one pread64) under the eBPF backend.</summary>
[SupportedOSPlatform("linux")]
public class EbpfFileRead : EbpfCallOverhead
{
    private protected override IIoOperation CreateOperation() => new FileReadOperation();
}

/// <summary><see cref="SocketRoundTripOverhead"/>'s operation (sendto + recvfrom) under the eBPF backend.</summary>
[SupportedOSPlatform("linux")]
public class EbpfSocketRoundTrip : EbpfCallOverhead
{
    private protected override IIoOperation CreateOperation() => new SocketRoundTripOperation();
}

/// <summary><see cref="SqliteQueryOperation"/> (8 calls from e_sqlite3, which keeps no frame pointers) under the eBPF backend.</summary>
[SupportedOSPlatform("linux")]
public class EbpfSqliteQuery : EbpfCallOverhead
{
    private protected override IIoOperation CreateOperation() => new SqliteQueryOperation();
}
