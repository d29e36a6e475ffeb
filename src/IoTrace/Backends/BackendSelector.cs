using System.Runtime.InteropServices;
using IoTrace.Backends.InProcess;

namespace IoTrace.Backends;

/// <summary>Picks the backend this process can run among the built-in one and those the app registered, and says why.</summary>
internal static class BackendSelector
{
    public const string Auto = "auto";
    public const string InProcess = "inprocess";

    // Backends that come in packages of their own, and how an app registers each: for a backend asked for by name
    // that the app did not register.
    private static readonly Dictionary<string, string> s_packaged = new(StringComparer.Ordinal)
    {
        ["ebpf"] = "reference the IoTrace.Ebpf package and register it: services.AddIoTrace().AddEbpfBackend(), or IoTracer.AddBackend(IoTraceEbpf.Backend) for the block API",
        ["dtrace"] = "reference the IoTrace.DTrace package and register it: services.AddIoTrace().AddDTraceBackend(), or IoTracer.AddBackend(IoTraceDTrace.Backend) for the block API",
        ["etw"] = "reference the IoTrace.Etw package and register it: services.AddIoTrace().AddEtwBackend(), or IoTracer.AddBackend(IoTraceEtw.Backend) for the block API",
    };

    /// <summary>The names <see cref="Create"/> accepts with these providers registered.</summary>
    public static string[] Names(IReadOnlyList<IoTraceBackendProvider> providers) => [Auto, InProcess, .. providers.Select(p => p.Name)];

    /// <summary>
    /// The named backend, or null with the reason it cannot run here. <c>auto</c>: the first registered backend that
    /// can run, with the in-process backend serving while it attaches and after it fails; else the in-process backend.
    /// </summary>
    public static IIoTraceBackend? Create(string name, IReadOnlyList<IoTraceBackendProvider> providers, out string reason)
    {
        var inProcess = CreateInProcess(out var inProcessReason);
        if (name == InProcess)
        {
            reason = inProcessReason;
            return inProcess;
        }

        if (name != Auto)
        {
            if (providers.FirstOrDefault(p => p.Name == name) is not { } provider)
            {
                reason = s_packaged.TryGetValue(name, out var register) ? $"the {name} backend is not registered: {register}" : $"no backend is named '{name}'";
                return null;
            }

            return WithFallback(provider.Create(out reason), inProcess);
        }

        var notUsed = new List<string>();
        foreach (var provider in providers)
        {
            if (WithFallback(provider.Create(out var providerReason), inProcess) is { } backend)
            {
                reason = providerReason;
                return backend;
            }

            notUsed.Add($"{provider.Name} not used: {providerReason}");
        }

        var others = notUsed.Count == 0 ? string.Empty : $" ({string.Join("; ", notUsed)})";
        reason = inProcessReason + others;
        return inProcess;
    }

    private static IIoTraceBackend? WithFallback(IIoTraceBackend? backend, IIoTraceBackend? inProcess) =>
        backend is null || inProcess is null ? backend : new FallbackBackend(backend, inProcess);

    private static InProcessBackend? CreateInProcess(out string reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            reason = OperatingSystem.IsWindows()
                ? "the in-process backend needs Linux; on Windows, the ETW backend (package IoTrace.Etw, registered with AddEtwBackend(), in an elevated process) traces"
                : $"no IO tracing backend runs on {RuntimeInformation.OSDescription} yet; the in-process and eBPF backends need Linux";
            return null;
        }

        return InProcessBackend.TryCreate(out var backend, out reason) ? backend : null;
    }
}
