using IoTrace.Backends;
using IoTrace.Attribution;
using IoTrace.Clients;
using IoTrace.Tracing;

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
    private readonly TraceSession? _previousOnThread;
    private readonly bool _publishedOnThread;
    private readonly bool _followsWorkItems;
    private Task? _charged;
    private IoTraceReport? _report;

    /// <summary>Starts recording <paramref name="session"/> in the current flow, on its recorder.</summary>
    internal IoTraceScope(TraceSession session)
    {
        _session = session;
        var recorder = session.Recorder;

        ClientActivities.OnTraceStarted();

        // Counted once the trace exists, so a failed start leaves no count behind; uncounted when its scope stops.
        if (session.KeepsContext)
        {
            HttpClientCallSites.OnContextTraceStarted();
            NameResolutionCallSites.OnContextTraceStarted();

            if (ThreadPoolCallSites.FollowsWorkItems(recorder.Capabilities))
            {
                _followsWorkItems = true;
                ThreadPoolCallSites.OnContextTraceStarted();
            }
        }

        _previous = TraceContext.Current;
        TraceContext.Current = session;

        // A backend that learns a call's trace from its thread sees the flow's trace on every thread it runs on.
        if ((recorder.Capabilities & BackendCapabilities.ReadsThreadTraces) != 0)
        {
            _publishedOnThread = true;
            _previousOnThread = ThreadTraces.Current;
            ThreadTraces.Current = session;
        }

        recorder.OnTraceStarted(session);

        // Counted here and uncounted at the first stop: the statistics' active traces.
        Tracer.OnScopeStarted();
    }

    /// <summary>The running trace (the middleware's Server-Timing reads what it counted so far).</summary>
    internal TraceSession Session => _session;

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
        var late = _report is null && !charged.IsCompleted;
        if (late && !charged.Wait(s_flushTimeout))
        {
            _session.MarkIncomplete();
        }

        return Report(late);
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
        using (SuppressedFlow.Begin())
        {
            return new(WaitAsync(charged));
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

        // The flow first: a kernel backend reads the thread's trace until its last call returns, and none after.
        _session.Deactivate();
        if (_publishedOnThread && ReferenceEquals(ThreadTraces.Current, _session))
        {
            ThreadTraces.Current = _previousOnThread is { IsActive: true } ? _previousOnThread : null;
        }

        // The backend then: it may mark the trace incomplete (tracing was switched off meanwhile).
        charged = _session.Recorder.OnTraceStopped(_session);
        _charged = charged;
        Tracer.OnScopeStopped();
        ClientActivities.OnTraceStopped();
        if (_session.KeepsContext)
        {
            HttpClientCallSites.OnContextTraceStopped();
        }

        if (_followsWorkItems)
        {
            ThreadPoolCallSites.OnContextTraceStopped();
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

        // Off the caller's path: the report may wait for a traced HttpClient request's host name to resolve.
        return Report(late: true);
    }

    private IoTraceReport Report(bool late = false) => _report ??= _session.Stop(mayWaitForPeers: late);
}
