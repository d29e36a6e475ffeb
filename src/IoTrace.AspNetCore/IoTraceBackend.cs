namespace IoTrace.AspNetCore;

/// <summary>
/// Which mechanism records the IO calls of a request. New backends (eBPF, ETW, dtrace) are added as new values.
/// </summary>
public enum IoTraceBackend
{
    /// <summary>The best backend this process can run; on a platform without one, tracing turns itself off with one warning.</summary>
    Auto = 0,

    /// <summary>
    /// The in-process Linux backend, which rebinds the IO imports of the runtime's native libraries; needs no privileges.
    /// Chosen explicitly, its hooks are installed at startup, and the app fails to start, with the reason, where it cannot run.
    /// </summary>
    InProcess = 1,
}
