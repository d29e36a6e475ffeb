using System.Diagnostics;
using IoTrace.Attribution;
using IoTrace.Probes;
using IoTrace.Tracing;

namespace IoTrace.DTrace.Attribution;

/// <summary>
/// How a call a dtrace script printed with context becomes a charge, whichever script printed it (<see cref="FlushCharger"/>'s
/// lines, <see cref="AggregateCharger"/>'s aggregated rows): the path an open took names the life of the fd it opened;
/// any other path is the call's own target (a stat's, an open that failed, a connect's peer).
/// </summary>
internal static class ContextCharges
{
    private static readonly double s_ticksPerNanosecond = Stopwatch.Frequency / 1e9;

    /// <summary>Stopwatch ticks, as traces count time, of dtrace's nanoseconds.</summary>
    public static long Ticks(long nanoseconds) => (long)(nanoseconds * s_ticksPerNanosecond);

    /// <param name="session">The trace charged.</param>
    /// <param name="probe">The call's probe.</param>
    /// <param name="takesPath">Whether the call has a path argument (an open's is the file it opened).</param>
    /// <param name="fd">The call's fd, or -1.</param>
    /// <param name="generation">The fd's life.</param>
    /// <param name="named">The path or peer the script printed with the call, if any.</param>
    /// <param name="site">The call's line.</param>
    /// <param name="calls">How many calls.</param>
    /// <param name="bytes">The bytes they moved.</param>
    /// <param name="ticks">Their wall time.</param>
    /// <param name="cpuNanoseconds">Their CPU time, 0 where unmeasured.</param>
    /// <param name="queuedBy">The line the calls' thread inherited (<see cref="IoCall.QueuedBy"/>), where the script printed one.</param>
    public static void Charge(TraceSession session, int probe, bool takesPath, int fd, long generation, string? named, SourceLocation site, long calls, long bytes, long ticks, long cpuNanoseconds, SourceLocation? queuedBy = null)
    {
        string? target = null;
        if (named is { Length: > 0 })
        {
            if (takesPath && ProbeCatalog.Has(probe, ProbeTraits.OpensFd) && fd >= 0)
            {
                session.NameFd(fd, generation, named);
            }
            else
            {
                target = named;
            }
        }

        session.Charge(new IoCall(probe, Math.Max(fd, -1), generation, target, site, calls, bytes, ticks, cpuNanoseconds) { QueuedBy = queuedBy });
    }
}
