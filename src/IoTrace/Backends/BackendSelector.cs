using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.InteropServices;
using IoTrace.Backends.InProcess;
using IoTrace.Backends.Unavailable;

namespace IoTrace.Backends;

/// <summary>Picks the backend this process can run, and says why.</summary>
internal static class BackendSelector
{
    public const string Auto = "auto";
    public const string InProcess = "inprocess";
    public const string Ebpf = "ebpf";

    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static readonly string[] Names = [Auto, InProcess, Ebpf];

    // The eBPF backend lives in its own package (it brings TraceEvent): found by name, only if the app references it.
    private const string EbpfType = "IoTrace.Ebpf.EbpfBackend";
    private const string EbpfAssembly = "IoTrace.Ebpf";

    /// <summary>The eBPF backend's factory; the backend can fall back to <paramref name="inProcess"/> while it attaches or after it fails.</summary>
    internal delegate bool EbpfFactory(IIoTraceBackend? inProcess, out IIoTraceBackend? backend, out string reason);

    public static IIoTraceBackend Select(out string reason) => Create(Auto, out reason) ?? new UnavailableBackend(reason);

    /// <summary>The named backend, or <see langword="null"/> with the reason it cannot run here.</summary>
    public static IIoTraceBackend? Create(string name, out string reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            reason = $"no IO tracing backend runs on {RuntimeInformation.OSDescription} yet; the in-process and eBPF backends need Linux";
            return null;
        }

        IIoTraceBackend? inProcess = InProcessBackend.TryCreate(out var created, out var inProcessReason) ? created : null;
        switch (name)
        {
            case InProcess:
                reason = inProcessReason;
                return inProcess;
            case Ebpf:
                return TryCreateEbpf(inProcess, out var ebpf, out reason) ? ebpf : null;
            default:
                if (TryCreateEbpf(inProcess, out ebpf, out var ebpfReason))
                {
                    reason = ebpfReason;
                    return ebpf;
                }

                reason = inProcess is null ? $"{inProcessReason}; eBPF: {ebpfReason}" : $"{inProcessReason} (eBPF not used: {ebpfReason})";
                return inProcess;
        }
    }

    [DynamicDependency("TryCreate", EbpfType, EbpfAssembly)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The type is kept by DynamicDependency when the package is referenced.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "The type is kept by DynamicDependency when the package is referenced.")]
    private static bool TryCreateEbpf(IIoTraceBackend? inProcess, out IIoTraceBackend? backend, out string reason)
    {
        backend = null;
        Type? type;
        try
        {
            type = Type.GetType($"{EbpfType}, {EbpfAssembly}", throwOnError: false);
        }
        catch (Exception e) when (e is IOException or BadImageFormatException or FileLoadException)
        {
            reason = $"the {EbpfAssembly} assembly could not be loaded: {e.Message}";
            return false;
        }

        if (type?.GetMethod("TryCreate", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static) is not { } method)
        {
            reason = $"the {EbpfAssembly} package is not referenced (dotnet add package {EbpfAssembly})";
            return false;
        }

        return method.CreateDelegate<EbpfFactory>()(inProcess, out backend, out reason);
    }
}
