using System.Diagnostics.Tracing;
using IoTrace.Backends;
using IoTrace.Tracing;

namespace IoTrace.Attribution;

/// <summary>
/// A library's async method may do its IO only in work items it queues to the thread pool: an async FileStream queues
/// each read (JsonSerializer.DeserializeAsync over one makes no call on the app's thread), and no frame of the app is on
/// the pool thread's stack. The thread pool's enqueue event is written on the queuing thread, where the app's line is
/// on the stack (or, on a pool thread, the line its own work item came with); its dequeue event on the thread about to
/// run the item: the line goes with the work item to the calls it makes, and to the items it queues in turn (in
/// process: <see cref="Inherited"/>).
/// </summary>
internal sealed class ThreadPoolCallSites : EventListener
{
    // FrameworkEventSource's ThreadPool keyword: ThreadPoolEnqueueWork and ThreadPoolDequeueWork, each with the work
    // item's hash code.
    private const int EnqueueEvent = 30;
    private const int DequeueEvent = 31;

    // Pending work items by their hash's low bits: bounded, since an item run without a dequeue event (a task inlined
    // by a waiter) leaves its entry; a later item overwrites it. Two pending items of traces in one slot: the older
    // loses its line (it gets what it would have got without this listener).
    private const int Slots = 1024;

    /// <summary>
    /// While it listens, the thread pool writes two events per work item of the process (about 0.2 us each), traced or
    /// not: only while traces with line context run.
    /// </summary>
    private static readonly ListenedEventSource s_source = new("System.Diagnostics.Eventing.FrameworkEventSource", EventLevel.Verbose, (EventKeywords)2);
    private static readonly Lazy<ThreadPoolCallSites> s_instance = new(Create);
    private static readonly ListeningWhileTraced s_listening = new(Listen, static () => s_source.Disable(s_instance.Value));
    private static TaskCompletionSource s_firstEvent = CompletedSource();
    // Kept here so the timer lives as long as the listener.
    private static Timer? s_idleCheck;
    private static readonly QueuedWork?[] s_pending = new QueuedWork?[Slots];

    // The lines a kernel backend's slot names (24 bits), numbered from 1; the process's lines are few (a call path's
    // line is cached per resolver), and past the last number a line gets none.
    private const int MaxSiteIds = (1 << 24) - 1;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<SourceLocation, int> s_siteIds = new(ReferenceEqualityComparer.Instance);
    private static SourceLocation?[] s_sitesById = new SourceLocation?[64];
    private static readonly Lock s_numbering = new();

    // The trace and line of the work item this thread runs, from its dequeue event: until the thread's next item.
    [ThreadStatic]
    private static QueuedWork? t_running;

    /// <summary>
    /// Whether a backend can tell which work item a pool thread's call belongs to: one that sees each call in its flow
    /// (in process), or keeps the line of each call's work item (<see cref="BackendCapabilities.KeepsWorkItemLines"/>).
    /// </summary>
    public static bool FollowsWorkItems(BackendCapabilities capabilities) =>
        (capabilities & (BackendCapabilities.ReportsLate | BackendCapabilities.KeepsWorkItemLines)) != BackendCapabilities.ReportsLate;

    /// <summary>A trace with line context starts: listens from now on.</summary>
    public static void OnContextTraceStarted() => s_listening.TraceStarted();

    /// <summary>A trace with line context stopped.</summary>
    public static void OnContextTraceStopped() => s_listening.TraceStopped();

    /// <summary>Whether the thread pool's events reach the listener now.</summary>
    internal static bool IsListening => s_listening.IsListening;

    /// <summary>Stops listening if idle at <paramref name="now"/> (tests; a timer does it every second).</summary>
    internal static bool StopIfIdle(long now) => s_listening.StopIfIdle(now);

    /// <summary>Completes with the first event since the thread pool's events were last enabled (tests).</summary>
    internal static Task FirstEventSinceEnabled => Volatile.Read(ref s_firstEvent).Task;

    /// <summary>
    /// The line a call without an application frame inherits on this thread: the line the flow inherited
    /// (<see cref="TraceContext.LastCallSite"/>, set inside a framework async method for its own continuations); else the
    /// line that queued the work item the thread runs, when it was queued in <paramref name="session"/>. The flow's comes
    /// first: another await's continuation may run inline in the work item, and the item's line would not be its.
    /// </summary>
    public static SourceLocation? Inherited(TraceSession session) =>
        TraceContext.LastCallSite ?? (t_running is { } running && running.TraceId == session.Id ? running.Site : null);

    /// <summary>
    /// The number of the line a call without an application frame would inherit on this thread now
    /// (<see cref="Inherited"/>), for a kernel backend to keep with the call; 0 for none. Published in the thread's slot
    /// with its trace (<see cref="BackendCapabilities.KeepsWorkItemLines"/>).
    /// </summary>
    public static int InheritedSiteId(TraceSession session) => Inherited(session) is { IsApplication: true } site ? IdOf(site) : 0;

    /// <summary>The line numbered <paramref name="id"/> by <see cref="InheritedSiteId"/>; null for 0 or a number never given.</summary>
    public static SourceLocation? SiteOf(long id)
    {
        var sites = Volatile.Read(ref s_sitesById);
        return id > 0 && id < sites.Length ? Volatile.Read(ref sites[id]) : null;
    }

    private static int IdOf(SourceLocation site)
    {
        if (s_siteIds.TryGetValue(site, out var id))
        {
            return id;
        }

        lock (s_numbering)
        {
            if (s_siteIds.TryGetValue(site, out id))
            {
                return id;
            }

            id = s_siteIds.Count + 1;
            if (id > MaxSiteIds)
            {
                return 0;
            }

            var sites = s_sitesById;
            if (id >= sites.Length)
            {
                Array.Resize(ref sites, sites.Length * 2);
            }

            // The line before its number: a reader that finds the number finds the line.
            sites[id] = site;
            Volatile.Write(ref s_sitesById, sites);
            s_siteIds[site] = id;
            return id;
        }
    }

    private static ThreadPoolCallSites Create()
    {
        var listener = new ThreadPoolCallSites();
        s_idleCheck = s_listening.CheckIdleEverySecond();
        return listener;
    }

    // Made by the first trace, as the listening begins (the listener's creation enables a source that exists), and
    // again after each stop. Never from OnEventSourceCreated: the source may be created inside the thread pool's type
    // initializer, where queuing a work item fails.
    private static void Listen()
    {
        var listener = s_instance.Value;
        if (s_source.Enable(listener))
        {
            Enabled();
        }
    }

    /// <summary>
    /// The thread pool reads whether its events are enabled only as a thread starts dispatching work items, and every
    /// 30 ms while it goes on: a work item queued now wakes an idle thread, so the events flow within microseconds, not
    /// only once the pool next has work. Until then, work items go without a line.
    /// </summary>
    private static void Enabled()
    {
        Volatile.Write(ref s_firstEvent, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        ThreadPool.UnsafeQueueUserWorkItem(static _ => { }, null);
    }

    private static TaskCompletionSource CompletedSource()
    {
        var source = new TaskCompletionSource();
        source.SetResult();
        return source;
    }

    protected override void OnEventSourceCreated(EventSource eventSource) => s_source.Created(this, eventSource, s_listening);

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.Payload is not [long hash])
        {
            return;
        }

        if (!s_firstEvent.Task.IsCompleted)
        {
            s_firstEvent.TrySetResult();
        }

        if (eventData.EventId == DequeueEvent)
        {
            ref var slot = ref s_pending[(int)hash & (Slots - 1)];
            var pending = Volatile.Read(ref slot);
            if (pending is not null && pending.Hash == hash && Interlocked.CompareExchange(ref slot, null, pending) == pending)
            {
                t_running = pending;
            }
            else
            {
                t_running = null;
            }

            return;
        }

        // Only a trace whose backend follows work items uses the line (another may run while one does).
        if (eventData.EventId != EnqueueEvent || TracerThread.IsBusy
            || TraceContext.Current is not { IsActive: true, KeepsContext: true } session
            || !FollowsWorkItems(session.Recorder.Capabilities))
        {
            return;
        }

        // Without a line (none on the stack, none inherited) the item goes on as it would without this listener.
        var site = TraceContext.ResolveCaller(session) is { Site: { IsApplication: true } found } ? found : Inherited(session);
        if (site is { IsApplication: true })
        {
            Volatile.Write(ref s_pending[(int)hash & (Slots - 1)], new QueuedWork(hash, session.Id, site));
        }
    }

    // By the trace's id, not the trace: an entry left behind keeps no finished trace alive.
    private sealed record QueuedWork(long Hash, long TraceId, SourceLocation Site);
}
