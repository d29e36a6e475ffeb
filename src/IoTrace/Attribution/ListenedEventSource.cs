using System.Diagnostics.Tracing;

namespace IoTrace.Attribution;

/// <summary>
/// The event source a listener enables while traces run (<see cref="ListeningWhileTraced"/>), known once the runtime
/// tells the listener it exists, which may be after the listening began.
/// </summary>
internal sealed class ListenedEventSource(string name, EventLevel level, EventKeywords keywords)
{
    private EventSource? _source;

    /// <summary>Enables the source's events on <paramref name="listener"/>; returns whether the source exists yet (its creation enables them otherwise).</summary>
    public bool Enable(EventListener listener)
    {
        if (Volatile.Read(ref _source) is not { } source)
        {
            return false;
        }

        listener.EnableEvents(source, level, keywords);
        return true;
    }

    public void Disable(EventListener listener)
    {
        if (Volatile.Read(ref _source) is { } source)
        {
            listener.DisableEvents(source);
        }
    }

    /// <summary>
    /// From the listener's <see cref="EventListener.OnEventSourceCreated"/>, which the base constructor calls for the
    /// sources that exist already. Not under the listening's lock: the runtime calls it holding its listeners' lock,
    /// which <see cref="EventListener.EnableEvents(EventSource, EventLevel, EventKeywords)"/> takes after that one. The
    /// source is known before <paramref name="listening"/> is read (a full fence between), and the listening is on
    /// before it enables the source: one of the two enables it.
    /// </summary>
    public void Created(EventListener listener, EventSource eventSource, ListeningWhileTraced listening)
    {
        if (eventSource.Name == name)
        {
            Interlocked.Exchange(ref _source, eventSource);
            if (listening.IsListening)
            {
                listener.EnableEvents(eventSource, level, keywords);
            }
        }
    }
}
