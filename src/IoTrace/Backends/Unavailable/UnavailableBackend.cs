using IoTrace.Core;

namespace IoTrace.Backends.Unavailable;

/// <summary>Where no backend can run: traces run the traced code unchanged and report nothing.</summary>
internal sealed class UnavailableBackend(string reason) : IIoTraceBackend
{
    public string Name => "none";

    public string Reason { get; } = reason;

    public bool TryEnable(out string reason)
    {
        reason = Reason;
        return false;
    }

    public void OnTraceStarted(TraceSession session) => session.MarkIncomplete();

    public Task OnTraceStopped(TraceSession session) => Task.CompletedTask;

    public void Shutdown()
    {
    }
}
