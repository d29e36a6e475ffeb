using IoTrace.Attribution;
using IoTrace.Backends;

namespace IoTrace.Tracing;

/// <summary>The trace that the current async flow belongs to, and the last application line it ran.</summary>
internal static class TraceContext
{
    private static readonly AsyncLocal<TraceSession?> s_current = new();
    // A backend that keeps the line each thread inherits learns it with the thread's trace: published again whenever it
    // changes on a thread (set, or a hop between flows of one trace).
    private static readonly AsyncLocal<SourceLocation?> s_lastCallSite = new(static _ => ThreadTraces.PublishAgain());

    public static TraceSession? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    /// <summary>
    /// The last application call site seen in this flow. An async framework method that continues on a
    /// thread-pool thread has no application frame on its stack; it inherits the line that called it.
    /// </summary>
    public static SourceLocation? LastCallSite
    {
        get => s_lastCallSite.Value;
        set => s_lastCallSite.Value = value;
    }

    /// <summary>
    /// The line of a call seen in its own flow, from its stack: the application line found there (handed down to the
    /// rest of a framework async method it called, whose later IO runs on thread-pool threads with no application
    /// frame), else the line the work item it runs in was queued from, or the line the flow inherited.
    /// </summary>
    public static SourceLocation SiteInFlow(ResolvedCallSite resolved, TraceSession session)
    {
        var site = resolved.Site;
        if (site.IsApplication)
        {
            // Set inside a framework async method, the value flows to that method's continuations only.
            if (resolved.InAsyncCallee && !ReferenceEquals(s_lastCallSite.Value, site))
            {
                s_lastCallSite.Value = site;
            }

            return site;
        }

        // A multiplexed connection's own IO stays its own, whatever line the flow inherited.
        return ReferenceEquals(site, SourceLocation.SharedConnection) ? site : ThreadPoolCallSites.Inherited(session) ?? site;
    }

    /// <summary>
    /// The caller's call site, for code that runs in the traced flow but outside its IO calls (a client's event, a
    /// client's profiler): resolved as the tracer's own work, so a new call path's PDB reads are never charged to the
    /// trace (hidden from a kernel backend too). Null when resolution failed: attribution is best effort, the caller goes
    /// on without a line, and the failure is logged once.
    /// </summary>
    public static ResolvedCallSite? ResolveCaller(TraceSession session)
    {
        using var busy = TracerThread.Enter();
        using var hidden = ThreadTraces.Hide();
        try
        {
            return session.Resolver.ResolveHere();
        }
        catch (Exception e)
        {
            BackendDiagnostics.Shared.TracerFailed(e);
            return null;
        }
    }
}
