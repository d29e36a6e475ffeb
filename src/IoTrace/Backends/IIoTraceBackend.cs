using IoTrace.Core;

namespace IoTrace.Backends;

/// <summary>
/// Something that sees a process's IO calls and charges them to the trace they belong to.
/// One instance per process; traces start and stop concurrently.
/// </summary>
internal interface IIoTraceBackend
{
    /// <summary>The name reports carry (<c>inprocess</c>, <c>none</c>, ...).</summary>
    string Name { get; }

    /// <summary>Gets ready to trace now (installs hooks) rather than at the first trace; false with the reason if it cannot.</summary>
    bool TryEnable(out string reason);

    /// <summary>Begins charging calls of <paramref name="session"/>'s flow to it. Never throws.</summary>
    void OnTraceStarted(TraceSession session);

    /// <summary>
    /// Stops charging calls to <paramref name="session"/>. Never throws. The task completes once every call made
    /// before the stop has been charged (at once in process; a kernel backend waits for its next flush), and in any
    /// case within a bounded time, with the session marked incomplete if it had to give up: callers await it without
    /// a timeout of their own.
    /// </summary>
    Task OnTraceStopped(TraceSession session);

    /// <summary>Undoes everything the backend changed in the process. Later traces may enable it again.</summary>
    void Shutdown();
}
