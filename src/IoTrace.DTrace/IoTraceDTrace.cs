namespace IoTrace.DTrace;

/// <summary>
/// The dtrace backend (root, <c>dtrace</c> on the PATH; verified on Linux x64 with Oracle's DTrace for Linux): one dtrace
/// process, started by the app with a generated D script, reports the IO calls of traced threads, so it also sees IO
/// that bypasses the runtime. Register it with <c>services.AddIoTrace().AddDTraceBackend()</c>, or
/// <c>IoTracer.AddBackend(IoTraceDTrace.Backend)</c> for the block API; <c>auto</c> then prefers it where it can run,
/// and the in-process backend serves while it attaches.
/// </summary>
public static class IoTraceDTrace
{
    /// <summary>The dtrace backend's provider, named <c>dtrace</c>.</summary>
    public static IoTraceBackendProvider Backend { get; } = new(Name, Create);

    /// <summary>The backend's name in reports and configuration.</summary>
    internal const string Name = "dtrace";

    private static DTraceBackend? Create(out string reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            // The script's system call table and the thread slot table are Linux's so far; macOS, FreeBSD and illumos
            // need their own (docs/architecture.md).
            reason = "the dtrace backend runs on Linux so far (DTrace for Linux); macOS, FreeBSD and illumos are not supported yet";
            return null;
        }

        return DTraceBackend.TryCreate(out reason);
    }
}
