using IoTrace.Backends.Attached;
using IoTrace.Tracing;

namespace IoTrace.Etw.Translation;

/// <summary>A trace the ETW backend records: its session, and its calls read but not yet charged (event thread only).</summary>
internal sealed class EtwTrace(TraceSession session) : AttachedTrace(session)
{
    public List<PendingCall> Pending { get; } = [];
}
