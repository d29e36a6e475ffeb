using IoTrace.Tracing;

namespace IoTrace.Backends.Attached;

/// <summary>A trace an attached backend records: its session, and the wait for the flush that completes its report.</summary>
internal abstract class AttachedTrace(TraceSession session)
{
    public TraceSession Session { get; } = session;

    public TaskCompletionSource Flushed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
