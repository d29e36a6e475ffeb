namespace IoTrace.Tracing;

/// <summary>
/// Which trace each thread runs now, for a backend that cannot read the flow where it sees a call (a kernel program
/// reads a per-thread table, an event consumer a per-thread timeline): the flow's trace, when such a backend records it,
/// is published to that backend's <see cref="IThreadTracePublisher"/> every time it changes on a thread (set, cleared,
/// or an async hop that switches contexts). Only traces such a backend records pay for the notifications.
/// </summary>
internal static class ThreadTraces
{
    private static readonly AsyncLocal<TraceSession?> s_current = new(static args => s_publisher?.Publish(args.CurrentValue));
    private static IThreadTracePublisher? s_publisher;

    /// <summary>The current flow's trace, when a backend that reads per-thread traces records it.</summary>
    public static TraceSession? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    /// <summary>
    /// Publishes the thread's trace again, where a backend reads per-thread traces: what is published with it (the line
    /// the thread inherits, <see cref="Attribution.ThreadPoolCallSites.InheritedSiteId"/>) changed.
    /// </summary>
    public static void PublishAgain()
    {
        if (Volatile.Read(ref s_publisher) is { } publisher && s_current.Value is { } session)
        {
            publisher.Publish(session);
        }
    }

    /// <summary>Publishes every change from now on to <paramref name="publisher"/>, until the returned subscription is disposed.</summary>
    public static IDisposable Subscribe(IThreadTracePublisher publisher)
    {
        Volatile.Write(ref s_publisher, publisher);
        return new Subscription(publisher);
    }

    /// <summary>
    /// Marks the current thread's work as the tracer's own until disposed: its IO (PDB reads while resolving a line, a
    /// socket's name asked with getpeername) is then charged to no trace, neither the flow's nor that of a trace that
    /// owns the fd (a read it retries, a connect under way). The in-process hooks skip it through
    /// <see cref="TracerThread"/>; a kernel only knows the thread's published trace. Synchronous work only.
    /// </summary>
    public static HiddenScope Hide()
    {
        var publisher = Volatile.Read(ref s_publisher);
        if (publisher is null)
        {
            return default;
        }

        publisher.PublishTracersOwn();
        return new HiddenScope(publisher);
    }

    internal readonly struct HiddenScope(IThreadTracePublisher? publisher) : IDisposable
    {
        // Publishes the flow's trace again: the thread is still in the same flow (the hidden work never awaits).
        public void Dispose() => publisher?.Publish(s_current.Value);
    }

    private sealed class Subscription(IThreadTracePublisher publisher) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref s_publisher, null, publisher);
    }
}

/// <summary>Where a backend that cannot read the flow learns the trace of the current thread (<see cref="ThreadTraces"/>).</summary>
internal interface IThreadTracePublisher
{
    /// <summary>The current thread now runs <paramref name="session"/> (null: no trace). Called on that thread; must not throw.</summary>
    void Publish(TraceSession? session);

    /// <summary>
    /// The current thread now does the tracer's own work (<see cref="ThreadTraces.Hide"/>): none of its calls is any
    /// trace's. Where the reader has no owner rule, that is no trace at all.
    /// </summary>
    void PublishTracersOwn() => Publish(null);
}
