namespace IoTrace.Backends;

/// <summary>What a backend can see and measure, so the core and the docs need not know backends by name.</summary>
[Flags]
internal enum BackendCapabilities
{
    None = 0,

    /// <summary>Sees IO that bypasses the runtime's own native library: a P/Invoke into libc, a native library outside the app's folder, the runtime's own reads.</summary>
    SeesNativeLibraries = 1,

    /// <summary>Measures the time a call spent on CPU; without it, reports say cpu is unavailable rather than 0.</summary>
    MeasuresCpu = 2,

    /// <summary>Delivers call sites found from stacks (otherwise calls come without lines).</summary>
    HasStacks = 4,

    /// <summary>Delivers calls after they return, from another thread (a kernel flush): a stopped trace waits for its last delivery.</summary>
    ReportsLate = 8,

    /// <summary>
    /// Learns a call's trace from the thread it ran on, not from the flow (a kernel program cannot read an AsyncLocal):
    /// the core publishes the flow's trace to it on every thread the flow runs on (<see cref="Tracing.ThreadTraces"/>).
    /// </summary>
    ReadsThreadTraces = 16,

    /// <summary>
    /// Counts Windows's operations (the kernel's <c>FileIO/</c> and Winsock's <c>AFD/</c> probes), not Linux's system
    /// calls: a trace sizes its per-probe counts for those (<see cref="Probes.ProbeCatalog.Range"/>).
    /// </summary>
    CountsWindowsOperations = 32,

    /// <summary>
    /// Counts the calls made outside every trace on a <see cref="Tracing.SharedConnection"/>'s socket, so a trace that
    /// used the connection can report them (<see cref="IoTraceReport.SharedAggregates"/>).
    /// </summary>
    CountsSharedConnections = 64,

    /// <summary>
    /// Keeps, with each call, the line a call without an application frame inherits on its thread (the line that queued
    /// the thread's work item, or the flow's: <see cref="Attribution.ThreadPoolCallSites.InheritedSiteId"/>, published
    /// with the thread's trace), and delivers it as <see cref="Tracing.IoCall.QueuedBy"/>.
    /// </summary>
    KeepsWorkItemLines = 128,
}
