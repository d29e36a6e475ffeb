using System.Runtime.Versioning;
using IoTrace.Backends;
using IoTrace.DTrace;
using IoTrace.Ebpf;

namespace IoTrace.Benchmarks;

/// <summary>The kernel-side backends for the benchmarks' static tracer: registered, attached, and reachable for their timings.</summary>
[SupportedOSPlatform("linux")]
internal static class KernelBenchBackend
{
    /// <summary>Registers the kernel backends and attaches <paramref name="name"/> (<c>ebpf</c>, <c>dtrace</c>); false, with the reason, where it cannot run.</summary>
    public static bool TryAttach(string name, out string reason)
    {
        IoTracer.AddBackend(IoTraceEbpf.Backend);
        IoTracer.AddBackend(IoTraceDTrace.Backend);
        return IoTracer.TryEnable(name, out reason);
    }

    /// <summary>The attached eBPF backend (behind the fallback that serves while it attaches).</summary>
    public static EbpfBackend Ebpf =>
        (IoTracer.Backend as FallbackBackend)?.Primary as EbpfBackend ?? throw new InvalidOperationException($"the process runs '{IoTracer.BackendName}', not ebpf");
}
