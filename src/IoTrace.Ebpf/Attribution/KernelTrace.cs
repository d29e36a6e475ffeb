using IoTrace.Backends.Attached;
using IoTrace.Tracing;

namespace IoTrace.Ebpf.Attribution;

/// <summary>A trace the kernel records: its session, the paths its stats named by id, and the wait for its last flush (the first after its stop).</summary>
internal sealed class KernelTrace(TraceSession session) : AttachedTrace(session)
{
    // Created on first use, on the flush thread: thousands of stopped traces wait for their flush at once under load,
    // and most of them (Summary, or no IO) never need it.
    private Dictionary<long, string>? _paths;

    /// <summary>The paths the kernel named by id (an open's, a stat's: the kernel program's path ids), of this flush or an earlier one.</summary>
    public Dictionary<long, string> Paths => _paths ??= [];
}
