using IoTrace.Core;
using IoTrace.Ebpf.Kernel;

namespace IoTrace.Ebpf.Attribution;

/// <summary>A trace the kernel records: its session, what its fds are, and the wait for its last flush.</summary>
internal sealed class KernelTrace(TraceSession session, TraceSession? previous)
{
    // Created on first use, on the flush thread: thousands of stopped traces wait for their flush at once under load,
    // and most of them (Summary, or no IO) never need these.
    private Dictionary<(int Fd, long Generation), SourceLocation>? _openers;
    private Dictionary<(int Fd, long Generation), string?>? _targets;
    private List<(KernelAggregate Aggregate, SourceLocation Site, string Target)>? _withoutLine;

    public TraceSession Session { get; } = session;

    /// <summary>The flow's kernel trace before this one (nested traces): restored when this one stops.</summary>
    public TraceSession? Previous { get; } = previous;

    /// <summary>The application line that opened each fd, for calls the runtime made on a thread-pool thread with no app frame.</summary>
    public Dictionary<(int Fd, long Generation), SourceLocation> Openers => _openers ??= [];

    /// <summary>What each fd is (a path, a peer), as the kernel or the process saw it.</summary>
    public Dictionary<(int Fd, long Generation), string?> Targets => _targets ??= [];

    /// <summary>
    /// Calls on an IP peer with no application line: kept until the trace is whole, when its HttpClient requests say
    /// whether one line owns that peer (a later request from another line makes it ambiguous).
    /// </summary>
    public List<(KernelAggregate Aggregate, SourceLocation Site, string Target)> WithoutLine => _withoutLine ??= [];

    /// <summary>Whether <see cref="WithoutLine"/> holds any call, without creating it.</summary>
    public bool HasCallsWithoutLine => _withoutLine is { Count: > 0 };

    /// <summary>When the flow stopped, CLOCK_MONOTONIC ns; 0 while it runs. The first flush after it completes the trace.</summary>
    public long StopNanoseconds { get; set; }

    public TaskCompletionSource Flushed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
