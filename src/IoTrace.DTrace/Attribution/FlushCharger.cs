using System.Collections.Concurrent;
using IoTrace.Attribution;
using IoTrace.DTrace.Consumer;
using IoTrace.Platform.Linux;
using IoTrace.Probes;
using IoTrace.Symbols;
using IoTrace.Tracing;

namespace IoTrace.DTrace.Attribution;

/// <summary>
/// Charges each flush's calls to their traces, on the thread that reads dtrace's output: closes first (the lives
/// they end are then not described from /proc/self/fd, where their numbers may stand for other files by now), each
/// with its fd life, the path as an opened fd's target or the call's own, and the line its stack resolves to.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class FlushCharger(ConcurrentDictionary<long, DTraceTrace> traces, StackAttributor attributor)
{
    public void Charge(IReadOnlyList<DTraceCall> flush)
    {
        // Every call of the flush returned before it was delivered: one wait for the code map covers them all.
        bool? waited = null;
        foreach (var closes in (bool[])[true, false])
        {
            foreach (var call in flush)
            {
                var probe = ProbeCatalog.IndexOf(call.Syscall.Probe);
                if (ProbeCatalog.Has(probe, ProbeTraits.ClosesFd) == closes && traces.TryGetValue(call.Trace, out var trace))
                {
                    Charge(trace.Session, probe, call, ref waited);
                }
                else if (!closes && SharedConnections.ById(call.Trace) is { } shared)
                {
                    // A shared connection's read or write outside traces, printed while a trace used it.
                    shared.Count(probe, 1, call.Bytes, ContextCharges.Ticks(call.WallNanoseconds));
                }
            }
        }
    }

    private void Charge(TraceSession session, int probe, DTraceCall call, ref bool? waited)
    {
        var ticks = ContextCharges.Ticks(call.WallNanoseconds);
        if (!session.KeepsContext)
        {
            session.Charge(IoCall.Counted(probe, 1, call.Bytes, ticks, 0) with { Site = attributor.SiteWithoutContext(call.Stack) });
            return;
        }

        var site = attributor.Resolve(session.Resolver, call.Stack, ref waited);
        ContextCharges.Charge(session, probe, call.Syscall.Path != SyscallPath.None, call.Fd, call.Generation, call.Target, site, 1, call.Bytes, ticks, 0, ThreadPoolCallSites.SiteOf(call.InheritedSiteId));
    }
}
