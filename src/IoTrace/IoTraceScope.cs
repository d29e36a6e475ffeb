using IoTrace.Backends;
using IoTrace.Core;

namespace IoTrace;

/// <summary>
/// A running trace, started by <see cref="IoTracer.Start(Strategy)"/>: IO made in its async flow counts until <see cref="Stop"/>.
/// </summary>
public sealed class IoTraceScope : IDisposable
{
    // A kernel backend flushes every few milliseconds (and may wait once for the runtime's JIT events to resolve a
    // new call site); past this, a blocking Stop cuts the report short and says so. An awaited stop relies on the
    // backend's own bound (IIoTraceBackend.OnTraceStopped): a timer per waiting trace was a fifth of what each of
    // thousands of them kept alive under load.
    private static readonly TimeSpan s_flushTimeout = TimeSpan.FromSeconds(10);

    private readonly TraceSession _session;
    private readonly TraceSession? _previous;
    private readonly IIoTraceBackend _backend;
    private Task? _charged;
    private IoTraceReport? _report;

    internal IoTraceScope(TraceSession session, TraceSession? previous, IIoTraceBackend backend)
    {
        _session = session;
        _previous = previous;
        _backend = backend;

        // Counted here and uncounted at the first stop: the statistics' active traces.
        IoTracer.OnScopeStarted();
    }

    /// <summary>The strategy of the trace.</summary>
    public Strategy Strategy => _session.Strategy;

    /// <summary>
    /// Ends the trace and returns what it recorded. Later calls return the same report. With a kernel backend this
    /// blocks until the kernel's aggregates of the trace have been read (a few milliseconds); prefer <see cref="StopAsync"/> there.
    /// </summary>
    /// <returns>The report.</returns>
    public IoTraceReport Stop()
    {
        var charged = Detach();
        if (_report is null && !charged.IsCompleted && !charged.Wait(s_flushTimeout))
        {
            _session.MarkIncomplete();
        }

        return Report();
    }

    /// <summary>
    /// Ends the trace now and returns what it recorded once every call made before the stop has been counted:
    /// at once with the in-process backend, after the next flush with a kernel backend. Later calls return the same report.
    /// </summary>
    /// <returns>The report.</returns>
    public ValueTask<IoTraceReport> StopAsync()
    {
        var charged = Detach();
        if (_report is not null || charged.IsCompleted)
        {
            return new(Report());
        }

        // The wait does not hold the caller's ExecutionContext (the caller's own await captures it for its
        // continuation): under a kernel backend thousands of stopped traces wait at once, and what they hold is
        // copied by every garbage collection meanwhile.
        var flow = ExecutionContext.IsFlowSuppressed() ? (AsyncFlowControl?)null : ExecutionContext.SuppressFlow();
        try
        {
            return new(WaitAsync(charged));
        }
        finally
        {
            flow?.Undo();
        }
    }

    /// <summary>Ends the trace if <see cref="Stop"/> was not called.</summary>
    public void Dispose() => Detach();

    private Task Detach()
    {
        if (_charged is { } charged)
        {
            return charged;
        }

        // The backend first: it may mark the trace incomplete (tracing was switched off meanwhile).
        charged = _backend.OnTraceStopped(_session);
        _session.Deactivate();
        _charged = charged;
        IoTracer.OnScopeStopped();
        if (_session.KeepsContext)
        {
            HttpClientCallSites.OnContextTraceStopped();
        }

        if (ReferenceEquals(TraceContext.Current, _session))
        {
            TraceContext.Current = _previous;
        }

        return charged;
    }

    private async Task<IoTraceReport> WaitAsync(Task charged)
    {
        await charged.ConfigureAwait(false);
        return Report();
    }

    private IoTraceReport Report() => _report ??= _session.Stop();
}
