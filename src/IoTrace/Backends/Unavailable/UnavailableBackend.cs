using IoTrace.Tracing;

namespace IoTrace.Backends.Unavailable;

/// <summary>Where no backend can record: traces run the traced code unchanged and report nothing, marked incomplete.</summary>
internal sealed class UnavailableBackend(string reason) : IIoTraceBackend
{
    public const string BackendName = "none";

    public string Name => BackendName;

    public string Reason { get; } = reason;

    public BackendCapabilities Capabilities => BackendCapabilities.None;

    public IIoTraceBackend? RecorderForNewTrace() => this;

    public bool TryStart(out string reason)
    {
        reason = Reason;
        return false;
    }

    public void OnTraceStarted(TraceSession session) => session.MarkIncomplete();

    public Task OnTraceStopped(TraceSession session) => Task.CompletedTask;

    public string? DescribeFd(int fd, long generation) => null;

    public void Stop()
    {
    }
}
