using IoTrace.Backends.Attached;
using IoTrace.Tracing;

namespace IoTrace.DTrace.Attribution;

/// <summary>A trace the dtrace backend records: its session, and the task its stop waits for.</summary>
internal sealed class DTraceTrace(TraceSession session) : AttachedTrace(session)
{
    /// <summary>The flush that completes the trace: the first requested after its stop.</summary>
    public long Flush { get; set; }
}
