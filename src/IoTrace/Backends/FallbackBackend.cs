using IoTrace.Tracing;

namespace IoTrace.Backends;

/// <summary>
/// A backend that needs time to get ready, or may stop (a kernel program attaching, or dying), with another that serves
/// meanwhile (the in-process hooks): new traces go to the first once it is ready, to the second until then and after
/// it failed. Each trace stays with the backend that started recording it.
/// </summary>
internal sealed class FallbackBackend(IIoTraceBackend primary, IIoTraceBackend fallback) : IIoTraceBackend
{
    public IIoTraceBackend Primary { get; } = primary;

    public IIoTraceBackend Fallback { get; } = fallback;

    /// <summary>The primary's name: the backend the process is set up for, also while the fallback serves.</summary>
    public string Name => Primary.Name;

    public BackendCapabilities Capabilities => Primary.Capabilities;

    public IIoTraceBackend? RecorderForNewTrace() => Primary.RecorderForNewTrace() ?? Fallback.RecorderForNewTrace();

    public bool TryStart(out string reason) => Primary.TryStart(out reason);

    public void OnTraceStarted(TraceSession session) => session.Recorder.OnTraceStarted(session);

    public Task OnTraceStopped(TraceSession session) => session.Recorder.OnTraceStopped(session);

    public string? DescribeFd(int fd, long generation) => Primary.DescribeFd(fd, generation);

    public IReadOnlyList<SharedConnection> FindSharedSockets(IReadOnlySet<string> peers) => Primary.FindSharedSockets(peers);

    public void Stop()
    {
        Primary.Stop();
        Fallback.Stop();
    }
}
