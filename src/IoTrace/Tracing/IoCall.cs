using IoTrace.Attribution;

namespace IoTrace.Tracing;

/// <summary>
/// What a backend knows of an IO call, or of calls it counted together: the facts a trace turns into its report
/// (<see cref="TraceSession.Charge"/>). What they mean (the fd's life and target, the line a call without one takes,
/// the totals) is the trace's to decide.
/// </summary>
/// <param name="Probe">The probe (<see cref="Probes.ProbeCatalog"/>).</param>
/// <param name="Fd">The fd the call was made on, or opened; -1 for none.</param>
/// <param name="Generation">
/// Which life of <paramref name="Fd"/>: a number the backend changes when the fd is closed (the kernel's count of its
/// closes, say), so that a number reused in one trace is another file.
/// </param>
/// <param name="Target">What the call itself names (an open's or a stat's path, a connect's peer); null: its fd's.</param>
/// <param name="Site">The line the backend found on the call's stack (the application's, or not); null: none.</param>
/// <param name="Calls">How many calls these facts stand for.</param>
/// <param name="Bytes">Bytes the calls moved.</param>
/// <param name="WallTicks">Wall time in the calls, in <see cref="System.Diagnostics.Stopwatch"/> ticks.</param>
/// <param name="CpuNanoseconds">Time on CPU in the calls.</param>
/// <param name="FdMayBeOpen">Whether the fd may still be open, so that the backend may be asked what it is (false after EBADF).</param>
internal readonly record struct IoCall(
    int Probe,
    int Fd,
    long Generation,
    string? Target,
    SourceLocation? Site,
    long Calls,
    long Bytes,
    long WallTicks,
    long CpuNanoseconds,
    bool FdMayBeOpen = true)
{
    /// <summary>
    /// The line the calls' thread would have given a call without an application frame (the line that queued its work
    /// item, or its flow's), from a backend that keeps it (<see cref="Backends.BackendCapabilities.KeepsWorkItemLines"/>):
    /// the calls take it when their stack has no application frame.
    /// </summary>
    public SourceLocation? QueuedBy { get; init; }

    /// <summary>Calls counted without context (the Summary strategy): no fd, target or line.</summary>
    public static IoCall Counted(int probe, long calls, long bytes, long wallTicks, long cpuNanoseconds) =>
        new(probe, -1, 0, null, null, calls, bytes, wallTicks, cpuNanoseconds);
}
