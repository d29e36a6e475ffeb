namespace IoTrace.AspNetCore;

/// <summary>
/// Which mechanism records the IO calls of a request.
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

    /// <summary>
    /// The eBPF Linux backend (package IoTrace.Ebpf): counts calls in the kernel with its own BPF program, so it also
    /// sees IO that bypasses the runtime (a P/Invoke straight into libc, a native driver). Needs root or CAP_BPF and
    /// CAP_PERFMON, and libbpf 1.x. Chosen explicitly, it attaches at startup, and the app fails to start,
    /// with the reason, where it cannot run. <see cref="Auto"/> picks it where it runs.
    /// </summary>
    Ebpf = 2,

    /// <summary>
    /// The dtrace backend (package IoTrace.DTrace): one dtrace process with a generated D script reports each IO call
    /// of a traced thread, so it also sees IO that bypasses the runtime. Needs root and <c>dtrace</c> on the PATH;
    /// runs on Linux (DTrace for Linux) so far. Chosen explicitly, it attaches at startup, and the app fails to start,
    /// with the reason, where it cannot run. <see cref="Auto"/> picks it where it runs.
    /// </summary>
    DTrace = 3,

    /// <summary>
    /// The ETW Windows backend (package IoTrace.Etw): a real-time kernel event session reports each file operation and
    /// socket request of a traced thread, with its stack. Needs an elevated process (administrator). Chosen explicitly,
    /// it attaches at startup, and the app fails to start, with the reason, where it cannot run. <see cref="Auto"/>
    /// picks it where it runs.
    /// </summary>
    Etw = 4,
}
