using IoTrace.Core;
using IoTrace.Ebpf.Kernel;

namespace IoTrace.Ebpf.Attribution;

/// <summary>A trace the kernel records: its session, what its fds are, and the wait for its last flush.</summary>
internal sealed class KernelTrace(TraceSession session, TraceSession? previous)
{
    public TraceSession Session { get; } = session;

    /// <summary>The flow's kernel trace before this one (nested traces): restored when this one stops.</summary>
    public TraceSession? Previous { get; } = previous;

    /// <summary>The application line that opened each fd, for calls the runtime made on a thread-pool thread with no app frame.</summary>
    public Dictionary<(int Fd, long Generation), SourceLocation> Openers { get; } = [];

    /// <summary>What each fd is (a path, a peer), as the kernel or the process saw it.</summary>
    public Dictionary<(int Fd, long Generation), string?> Targets { get; } = [];

    /// <summary>
    /// Calls on an IP peer with no application line: kept until the trace is whole, when its HttpClient requests say
    /// whether one line owns that peer (a later request from another line makes it ambiguous).
    /// </summary>
    public List<(KernelAggregate Aggregate, SourceLocation Site, string Target)> WithoutLine { get; } = [];

    /// <summary>When the flow stopped, CLOCK_MONOTONIC ns; 0 while it runs. The first flush after it completes the trace.</summary>
    public long StopNanoseconds { get; set; }

    public TaskCompletionSource Flushed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
