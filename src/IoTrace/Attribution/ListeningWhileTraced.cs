using System.Diagnostics;
using System.Diagnostics.Tracing;
using IoTrace.Tracing;

namespace IoTrace.Attribution;

/// <summary>
/// Enables one event source on a listener while traces with line context run, and for <see cref="IdleDelay"/> after the
/// last one: for a source that, once listened to, writes its events for the whole process, traced or not.
/// <paramref name="enabled"/> runs each time a trace enables them again after they stopped (not when the source is created:
/// a source may be created inside the type initializer of what it reports on, the thread pool's).
/// </summary>
internal sealed class ListeningWhileTraced(string sourceName, EventLevel level, EventKeywords keywords, Action? enabled = null)
{
    /// <summary>How long after the last trace with line context the listener stops.</summary>
    internal static readonly TimeSpan IdleDelay = TimeSpan.FromSeconds(10);

    private readonly Lock _toggle = new();
    private int _contextTraces;
    private long _lastStop;
    private EventSource? _source;
    // Listening from the start: the listener is created by the first trace that needs it.
    private int _listening = 1;

    /// <summary>Whether the source's events reach the listener now (or will, once the source exists).</summary>
    public bool IsListening => Volatile.Read(ref _listening) != 0;

    /// <summary>
    /// Checks every second whether <paramref name="listener"/> can stop; called once, when it is created. The caller keeps
    /// the timer for as long as the listener lives.
    /// </summary>
    public Timer CheckIdleEverySecond(EventListener listener)
    {
        // Without the creating flow's context: it may be a traced request's, which the timer would keep alive.
        using (SuppressedFlow.Begin())
        {
            return new Timer(_ => StopIfIdle(listener, Stopwatch.GetTimestamp()), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>A trace with line context starts: listens from now on (synchronously, before the trace's flow goes on).</summary>
    public void TraceStarted(EventListener listener)
    {
        Interlocked.Increment(ref _contextTraces);
        if (Volatile.Read(ref _listening) == 0)
        {
            lock (_toggle)
            {
                if (_listening == 0)
                {
                    // Without the source yet, its creation enables it.
                    Volatile.Write(ref _listening, 1);
                    if (Volatile.Read(ref _source) is { } source)
                    {
                        listener.EnableEvents(source, level, keywords);
                        enabled?.Invoke();
                    }
                }
            }
        }
    }

    /// <summary>A trace with line context stopped.</summary>
    public void TraceStopped()
    {
        Volatile.Write(ref _lastStop, Stopwatch.GetTimestamp());
        Interlocked.Decrement(ref _contextTraces);
    }

    /// <summary>
    /// Stops listening when no trace with line context runs and none stopped within <see cref="IdleDelay"/> of
    /// <paramref name="now"/> (a <see cref="Stopwatch"/> timestamp). Returns whether it stopped.
    /// </summary>
    public bool StopIfIdle(EventListener listener, long now)
    {
        lock (_toggle)
        {
            if (_listening == 0 || Volatile.Read(ref _contextTraces) > 0
                || Stopwatch.GetElapsedTime(Volatile.Read(ref _lastStop), now) < IdleDelay)
            {
                return false;
            }

            // A full fence between the two: a trace that starts meanwhile either sees the listener stopped and starts
            // it again itself, or is seen here, and the listener goes on.
            Interlocked.Exchange(ref _listening, 0);
            if (Volatile.Read(ref _contextTraces) > 0)
            {
                Volatile.Write(ref _listening, 1);
                return false;
            }

            if (Volatile.Read(ref _source) is { } source)
            {
                listener.DisableEvents(source);
            }

            return true;
        }
    }

    /// <summary>
    /// From the listener's <see cref="EventListener.OnEventSourceCreated"/>, which the base constructor calls for the
    /// sources that exist already (so this instance must exist before the listener). Not under the toggle's lock: the
    /// runtime calls it holding its listeners' lock, which <see cref="EventListener.EnableEvents(EventSource, EventLevel, EventKeywords)"/>
    /// takes after the toggle's.
    /// </summary>
    public void SourceCreated(EventListener listener, EventSource eventSource)
    {
        if (eventSource.Name == sourceName)
        {
            Volatile.Write(ref _source, eventSource);
            if (Volatile.Read(ref _listening) != 0)
            {
                listener.EnableEvents(eventSource, level, keywords);
            }
        }
    }
}
