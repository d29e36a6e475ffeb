namespace IoTrace.Ebpf;

/// <summary>
/// The eBPF backend (Linux x64, root or CAP_BPF and CAP_PERFMON, libbpf 1.x installed): counts IO calls in the kernel, so
/// it also sees IO that bypasses the runtime (a P/Invoke into libc, a native driver). Register it with
/// <c>services.AddIoTrace().AddEbpfBackend()</c>, or <c>IoTracer.AddBackend(IoTraceEbpf.Backend)</c> for the block API;
/// <c>auto</c> then prefers it where it can run, and the in-process backend serves while it attaches.
/// </summary>
public static class IoTraceEbpf
{
    /// <summary>The eBPF backend's provider, named <c>ebpf</c>.</summary>
    public static IoTraceBackendProvider Backend { get; } = new(Name, Create);

    /// <summary>The backend's name in reports and configuration.</summary>
    internal const string Name = "ebpf";

    private static EbpfBackend? Create(out string reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            reason = "eBPF needs Linux";
            return null;
        }

        return EbpfBackend.TryCreate(out reason);
    }
}
