using System.Collections.Concurrent;
using System.Diagnostics;
using IoTrace.Tracing;

namespace IoTrace.Backends.Attached;

/// <summary>
/// The lifecycle of a backend that attaches once, in the background, and completes each trace's report at a later
/// flush (a kernel program, a dtrace process): attached on its first trace or at <see cref="TryStart"/>, and ready
/// until it is stopped or fails. Until it is ready, and after it failed, it records no trace
/// (<see cref="RecorderForNewTrace"/>), so that a <see cref="FallbackBackend"/> lets another backend serve. A failure is
/// logged once, and the traces it was recording complete, marked incomplete.
/// </summary>
/// <typeparam name="TAttachment">What one attach holds (the program or process, the code map); disposed to detach.</typeparam>
/// <typeparam name="TTrace">What the backend keeps of each trace it records.</typeparam>
internal abstract class AttachedBackend<TAttachment, TTrace> : IIoTraceBackend
    where TAttachment : class, IDisposable
    where TTrace : AttachedTrace
{
    private readonly Lock _lock = new();
    private readonly TimeSpan _attachTimeout;
    private TAttachment? _attachment;
    private Task<string?>? _starting;

    // Bumped by Stop: an attach still under way then finds itself stale and undoes itself.
    private int _generation;
    private volatile bool _ready;
    private string? _failure;
    private int _lossReported;

    protected AttachedBackend(IBackendDiagnostics diagnostics, TimeSpan attachTimeout)
    {
        Diagnostics = diagnostics;
        _attachTimeout = attachTimeout;
    }

    public abstract string Name { get; }

    public abstract BackendCapabilities Capabilities { get; }

    /// <summary>Why the backend stopped, or null while it works.</summary>
    internal string? Failure => Volatile.Read(ref _failure);

    /// <summary>The traces recorded and not yet complete, by session id.</summary>
    protected ConcurrentDictionary<long, TTrace> Traces { get; } = new();

    protected IBackendDiagnostics Diagnostics { get; }

    /// <summary>The current attach, while ready.</summary>
    protected TAttachment? Attachment => Volatile.Read(ref _attachment);

    public IIoTraceBackend? RecorderForNewTrace()
    {
        if (_ready)
        {
            return this;
        }

        if (Failure is null)
        {
            _ = Start();
        }

        return null;
    }

    public bool TryStart(out string reason)
    {
        var starting = Start();
        if (!starting.Wait(_attachTimeout))
        {
            reason = $"the {Name} backend did not attach within {_attachTimeout.TotalSeconds:0} s";
            return false;
        }

        reason = starting.Result ?? string.Empty;
        return starting.Result is null;
    }

    public void OnTraceStarted(TraceSession session)
    {
        if (!_ready)
        {
            // Failed between choosing this backend and now: nothing will record the trace.
            session.MarkIncomplete();
            return;
        }

        Traces[session.Id] = CreateTrace(session);
    }

    public abstract Task OnTraceStopped(TraceSession session);

    public abstract string? DescribeFd(int fd, long generation);

    /// <inheritdoc cref="IIoTraceBackend.FollowSharedConnection"/>
    public virtual void FollowSharedConnection(SharedConnection connection, bool follow)
    {
    }

    /// <inheritdoc cref="IIoTraceBackend.FindSharedSockets"/>
    public virtual IReadOnlyList<SharedConnection> FindSharedSockets(IReadOnlySet<string> peers) => SharedConnections.WatchSocketsFor(Capabilities, peers);

    public void Stop()
    {
        TAttachment? attachment;
        lock (_lock)
        {
            attachment = _attachment;
            _attachment = null;
            _starting = null;
            _ready = false;
            _failure = null;
            _generation++;
        }

        if (attachment is not null)
        {
            attachment.Dispose();
            OnDetached(attachment);
        }

        AbandonTraces();
    }

    protected abstract TTrace CreateTrace(TraceSession session);

    /// <summary>
    /// Attaches, on a thread-pool thread outside any traced flow: the attachment, its failures wired to
    /// <see cref="Fail"/>; or null, with the reason.
    /// </summary>
    protected abstract TAttachment? Attach(out string reason);

    /// <summary>The attachment was disposed by <see cref="Stop"/>.</summary>
    protected virtual void OnDetached(TAttachment attachment)
    {
    }

    /// <summary>Stops the backend for good, once: logs why, detaches, and completes the running traces incomplete.</summary>
    protected string Fail(string reason)
    {
        TAttachment? attachment;
        lock (_lock)
        {
            if (_failure is not null)
            {
                return _failure;
            }

            _failure = reason;
            _ready = false;
            attachment = _attachment;
            _attachment = null;
        }

        Diagnostics.BackendFailed(Name, $"{reason}; traces fall back to the in-process backend, and those that were running report incomplete");
        attachment?.Dispose();
        AbandonTraces();
        return reason;
    }

    /// <summary>
    /// The backend lost calls and goes on: the traces running now are marked incomplete, and the first loss is logged
    /// (<paramref name="reason"/>).
    /// </summary>
    protected void LoseCalls(string reason)
    {
        foreach (var trace in Traces.Values)
        {
            trace.Session.MarkIncomplete();
        }

        if (Interlocked.Exchange(ref _lossReported, 1) == 0)
        {
            Diagnostics.CallsLost(Name, reason);
        }
    }

    /// <summary>Completes <paramref name="trace"/>, whole unless marked otherwise: its last flush was charged.</summary>
    protected void Complete(TTrace trace)
    {
        if (Traces.TryRemove(trace.Session.Id, out _))
        {
            trace.Flushed.TrySetResult();
        }
    }

    /// <summary>Completes, incomplete, the stopped traces that waited longer than <paramref name="timeout"/> for their flush.</summary>
    protected void ExpireOverdueTraces(TimeSpan timeout)
    {
        var overdue = Stopwatch.GetTimestamp() - (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        foreach (var trace in Traces.Values)
        {
            if (trace.StopTimestamp is var stopped && stopped != 0 && stopped < overdue)
            {
                CompleteIncomplete(trace);
            }
        }
    }

    /// <summary>Completes <paramref name="trace"/> marked incomplete: the flush it waits for will not come, or came too late.</summary>
    protected void CompleteIncomplete(TTrace trace)
    {
        if (Traces.TryRemove(trace.Session.Id, out _))
        {
            trace.Session.MarkIncomplete();
            trace.Flushed.TrySetResult();
        }
    }

    /// <summary>Attaches in the background, once; the task gives null when ready, or the reason it is not.</summary>
    private Task<string?> Start()
    {
        lock (_lock)
        {
            if (_failure is { } failure)
            {
                return Task.FromResult<string?>(failure);
            }

            if (_starting is { } starting)
            {
                return starting;
            }

            // The first trace may start it: its context must not flow into the backend's threads, or their own IO
            // would be charged to that request.
            var generation = _generation;
            using (SuppressedFlow.Begin())
            {
                return _starting = Task.Run(() => AttachOnce(generation));
            }
        }
    }

    private string? AttachOnce(int generation)
    {
        if (Attach(out var reason) is not { } attachment)
        {
            return Fail(reason);
        }

        lock (_lock)
        {
            if (generation != _generation)
            {
                attachment.Dispose();
                return "the backend was stopped while attaching";
            }

            _attachment = attachment;
            _ready = true;
        }

        return null;
    }

    private void AbandonTraces()
    {
        foreach (var trace in Traces.Values)
        {
            CompleteIncomplete(trace);
        }
    }
}
