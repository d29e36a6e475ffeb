using IoTrace.Backends;
using Microsoft.Extensions.Logging;

namespace IoTrace.Tracing;

/// <summary>
/// One tracer's log of what its backends report (<see cref="IBackendDiagnostics"/>): failures inside the tracer and lost
/// calls once each, a backend's start failure and its failure as they happen.
/// </summary>
internal sealed class TracerDiagnostics(ILogger logger) : IBackendDiagnostics
{
    public const string CategoryName = "IoTrace";

    private int _tracerFailed;
    private int _callsLost;

    public ILogger Logger { get; } = logger;

    public void TracerFailed(Exception exception)
    {
        if (Interlocked.Exchange(ref _tracerFailed, 1) == 0)
        {
            IoTraceLog.TracerFailed(Logger, exception);
        }
    }

    public void StartFailed(string backend, string reason) => IoTraceLog.BackendInstallFailed(Logger, backend, reason);

    public void BackendFailed(string backend, string reason) => IoTraceLog.BackendFailed(Logger, backend, reason);

    public void CallsLost(string backend, string reason)
    {
        if (Interlocked.Exchange(ref _callsLost, 1) == 0)
        {
            IoTraceLog.BackendLostCalls(Logger, backend, reason);
        }
    }
}
