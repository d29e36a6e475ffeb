using System.Runtime.InteropServices;
using IoTrace.Backends.InProcess;
using IoTrace.Backends.Unavailable;

namespace IoTrace.Backends;

/// <summary>Picks the backend this process can run, and says why.</summary>
internal static class BackendSelector
{
    public static IIoTraceBackend Select(out string reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            reason = $"no IO tracing backend runs on {RuntimeInformation.OSDescription} yet; the in-process backend needs Linux";
            return new UnavailableBackend(reason);
        }

        if (InProcessBackend.TryCreate(out var backend, out reason))
        {
            return backend;
        }

        return new UnavailableBackend(reason);
    }
}
