namespace IoTrace;

/// <summary>
/// A snapshot of the tracer's process-wide state, for health checks and soak tests: after load, with no request
/// being traced, <see cref="ActiveTraces"/> and <see cref="AwaitedFds"/> are back to zero.
/// </summary>
public sealed class IoTraceStatistics
{
    internal IoTraceStatistics(int activeTraces, int awaitedFds, int cachedCallSites)
    {
        ActiveTraces = activeTraces;
        AwaitedFds = awaitedFds;
        CachedCallSites = cachedCallSites;
    }

    /// <summary>Traces started and not yet stopped.</summary>
    public int ActiveTraces { get; }

    /// <summary>Non-blocking fds a running trace waits on (a socket read that returned EAGAIN).</summary>
    public int AwaitedFds { get; }

    /// <summary>Call paths whose application line is cached: bounded; it grows with the code's call sites, not with requests.</summary>
    public int CachedCallSites { get; }

    /// <inheritdoc />
    public override string ToString() => $"active traces {ActiveTraces}, awaited fds {AwaitedFds}, cached call sites {CachedCallSites}";
}
