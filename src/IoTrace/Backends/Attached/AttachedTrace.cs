using IoTrace.Tracing;

namespace IoTrace.Backends.Attached;

/// <summary>A trace an attached backend records: its session, and the wait for the flush that completes its report.</summary>
internal abstract class AttachedTrace(TraceSession session)
{
    public TraceSession Session { get; } = session;

    /// <summary>When the flow stopped (<see cref="System.Diagnostics.Stopwatch"/> ticks), set by the backend's stop; 0 while it runs.</summary>
    public long StopTimestamp { get; set; }

    public TaskCompletionSource Flushed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
