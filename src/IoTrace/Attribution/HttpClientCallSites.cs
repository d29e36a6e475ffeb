using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Net.Http;
using IoTrace.Backends;
using IoTrace.Clients;
using IoTrace.Tracing;

namespace IoTrace.Attribution;

/// <summary>
/// HttpClient opens connections and sends on runtime threads where no application frame is on the stack.
/// Its telemetry event <c>RequestStart</c> is written synchronously in the caller's flow, inside HttpClient's
/// own async method: the application line found there is handed down to that request's IO, and only to it
/// (in process), or noted in the trace with the request's peer (kernel backends, which match it at flush).
/// </summary>
internal sealed class HttpClientCallSites : EventListener
{
    /// <summary>
    /// How long after the last trace with line context the listener stops: while it listens, HttpClient writes all its
    /// events for every request of the process (about 1 KB and a few microseconds each), traced or not.
    /// </summary>
    internal static readonly TimeSpan IdleDelay = TimeSpan.FromSeconds(10);

    private const string HttpEventSource = "System.Net.Http";
    private static readonly Lazy<HttpClientCallSites> s_instance = new(Create);
    private static readonly Lock s_toggle = new();
    private static int s_contextTraces;
    private static long s_lastStop;
    private static EventSource? s_source;
    private static int s_listening;
    // Kept here so the timer lives as long as the listener.
    private static Timer? s_idleCheck;

    /// <summary>A trace with line context starts: listens from now on (synchronously, before the trace's flow goes on).</summary>
    public static void OnContextTraceStarted()
    {
        Interlocked.Increment(ref s_contextTraces);
        _ = s_instance.Value;
        if (Volatile.Read(ref s_listening) == 0)
        {
            lock (s_toggle)
            {
                if (s_listening == 0)
                {
                    // Without the source yet (no HttpClient used so far), its creation enables it.
                    Volatile.Write(ref s_listening, 1);
                    if (Volatile.Read(ref s_source) is { } source)
                    {
                        s_instance.Value.EnableEvents(source, EventLevel.Informational);
                    }
                }
            }
        }
    }

    /// <summary>A trace with line context stopped: once none has run for <see cref="IdleDelay"/>, the listener stops.</summary>
    public static void OnContextTraceStopped()
    {
        Volatile.Write(ref s_lastStop, Stopwatch.GetTimestamp());
        Interlocked.Decrement(ref s_contextTraces);
    }

    /// <summary>Whether HttpClient's events reach the listener now (or will, once HttpClient's event source exists).</summary>
    internal static bool IsListening => Volatile.Read(ref s_listening) != 0;

    /// <summary>
    /// Stops listening when no trace with line context runs and none stopped within <see cref="IdleDelay"/> of
    /// <paramref name="now"/> (a <see cref="Stopwatch"/> timestamp). Returns whether it stopped. Runs every second.
    /// </summary>
    internal static bool StopIfIdle(long now)
    {
        lock (s_toggle)
        {
            if (s_listening == 0 || Volatile.Read(ref s_contextTraces) > 0
                || Stopwatch.GetElapsedTime(Volatile.Read(ref s_lastStop), now) < IdleDelay)
            {
                return false;
            }

            // A full fence between the two: a trace that starts meanwhile either sees the listener stopped and starts
            // it again itself, or is seen here, and the listener goes on.
            Interlocked.Exchange(ref s_listening, 0);
            if (Volatile.Read(ref s_contextTraces) > 0)
            {
                Volatile.Write(ref s_listening, 1);
                return false;
            }

            if (Volatile.Read(ref s_source) is { } source)
            {
                s_instance.Value.DisableEvents(source);
            }

            return true;
        }
    }

    private static HttpClientCallSites Create()
    {
        // Listening from the start: the base constructor reports the sources that exist already.
        Volatile.Write(ref s_listening, 1);
        var listener = new HttpClientCallSites();

        // Without the creating flow's context: it may be a traced request's, which the timer would keep alive.
        using (SuppressedFlow.Begin())
        {
            s_idleCheck = new Timer(static _ => StopIfIdle(Stopwatch.GetTimestamp()), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }

        return listener;
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        // Called from the base constructor for sources that exist already, and later for new ones: static state only.
        // Not under s_toggle: the runtime calls this holding its listeners' lock, which EnableEvents takes after s_toggle.
        if (eventSource.Name == HttpEventSource)
        {
            Volatile.Write(ref s_source, eventSource);
            if (Volatile.Read(ref s_listening) != 0)
            {
                EnableEvents(eventSource, EventLevel.Informational);
            }
        }
    }

    // The line goes both ways: into the flow (TraceContext.LastCallSite), for a backend that sees the request's IO in the
    // flow, and into the trace with the request's peer, which at its end gives the line to the calls on that peer that
    // still have none (a backend that sees them on the thread pool, without the flow). The thread is hidden from a
    // kernel backend meanwhile, or the resolver's own IO (PDB reads, assembly loads) would be charged to the request.
    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        switch (eventData.EventName)
        {
            case "RequestHeadersStart" when Payload(eventData, "connectionId") is long connection:
                HttpClientRequests.RequestHeadersStart(connection);
                return;
            case "RequestStop":
                HttpClientRequests.RequestStop();
                return;
            case "ConnectionClosed" when Payload(eventData, "connectionId") is long closed:
                HttpClientRequests.ConnectionClosed(closed);
                return;
        }

        if (eventData.EventName == "ConnectionEstablished")
        {
            if (Payload(eventData, "connectionId") is long established && Payload(eventData, "versionMajor") is byte major)
            {
                HttpClientRequests.ConnectionEstablished(established, major, Payload(eventData, "remoteAddress") as string, Payload(eventData, "port") is int connectedPort ? connectedPort : 0);
            }

            // Which address a host name reached: a kernel backend sees only the socket's peer (HttpClientConnections).
            if (Payload(eventData, "host") is string host && Payload(eventData, "port") is int port && Payload(eventData, "remoteAddress") is string { Length: > 0 } address)
            {
                HttpClientConnections.Note(host, port, address);
            }

            return;
        }

        if (eventData.EventName != "RequestStart" || TraceContext.Current is not { IsActive: true, KeepsContext: true } session)
        {
            return;
        }

        // Without a line the request goes on, its sockets without a line rather than another request's.
        SourceLocation? line = null;
        if (TraceContext.ResolveCaller(session) is { Site.IsApplication: true } resolved)
        {
            line = resolved.Site;
            TraceContext.LastCallSite = line;
        }

        if (Payload(eventData, "host") is string requestHost && Payload(eventData, "port") is int requestPort)
        {
            session.RecordHttpRequest(requestHost, requestPort, line);
            HttpClientRequests.RequestStart(session, line, requestHost, requestPort,
                Payload(eventData, "versionMajor") is byte requestMajor ? requestMajor : 1,
                Payload(eventData, "versionPolicy") switch
                {
                    HttpVersionPolicy policy => policy,
                    int value => (HttpVersionPolicy)value,
                    _ => HttpVersionPolicy.RequestVersionOrLower,
                });

            // A connection pooled before anyone listened announced no address: a backend that matches peers late gets
            // the host name's addresses resolved meanwhile, in the background.
            if ((session.Recorder.Capabilities & BackendCapabilities.ReportsLate) != 0)
            {
                HttpClientConnections.Resolve(requestHost, requestPort);
            }
        }
    }

    private static object? Payload(EventWrittenEventArgs eventData, string name)
    {
        var index = eventData.PayloadNames?.IndexOf(name) ?? -1;
        return index >= 0 && eventData.Payload is { } payload && index < payload.Count ? payload[index] : null;
    }
}
