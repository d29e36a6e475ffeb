using System.Runtime.Versioning;
using IoTrace.Backends;
using IoTrace.Ebpf;

namespace IoTrace.Benchmarks;

/// <summary>The eBPF backend for the benchmarks' static tracer: registered, attached, and reachable for its timings.</summary>
[SupportedOSPlatform("linux")]
internal static class EbpfBenchBackend
{
    /// <summary>Registers the eBPF backend and attaches it; false, with the reason, where it cannot run.</summary>
    public static bool TryAttach(out string reason)
    {
        IoTracer.AddBackend(IoTraceEbpf.Backend);
        return IoTracer.TryEnable("ebpf", out reason);
    }

    /// <summary>The attached backend (behind the fallback that serves while it attaches).</summary>
    public static EbpfBackend Current =>
        (IoTracer.Backend as FallbackBackend)?.Primary as EbpfBackend ?? throw new InvalidOperationException($"the process runs '{IoTracer.BackendName}', not ebpf");
}
