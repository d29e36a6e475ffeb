using IoTrace.Backends;
using IoTrace.Core;

namespace IoTrace;

/// <summary>
/// A running trace, started by <see cref="IoTracer.Start(Strategy)"/>: IO made in its async flow counts until <see cref="Stop"/>.
/// </summary>
public sealed class IoTraceScope : IDisposable
{
    private readonly TraceSession _session;
    private readonly TraceSession? _previous;
    private readonly IIoTraceBackend _backend;
    private IoTraceReport? _report;

    internal IoTraceScope(TraceSession session, TraceSession? previous, IIoTraceBackend backend)
    {
        _session = session;
        _previous = previous;
        _backend = backend;
    }

    /// <summary>The strategy of the trace.</summary>
    public Strategy Strategy => _session.Strategy;

    /// <summary>Ends the trace and returns what it recorded. Later calls return the same report.</summary>
    /// <returns>The report.</returns>
    public IoTraceReport Stop()
    {
        if (_report is null)
        {
            // The backend first: it may mark the trace incomplete (tracing was switched off meanwhile).
            _backend.OnTraceStopped(_session);
            _report = _session.Stop();
            IoTracer.OnScopeStopped();
            if (ReferenceEquals(TraceContext.Current, _session))
            {
                TraceContext.Current = _previous;
            }
        }

        return _report;
    }

    /// <summary>Ends the trace if <see cref="Stop"/> was not called.</summary>
    public void Dispose() => Stop();
}
