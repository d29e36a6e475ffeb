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
    /// While it listens, HttpClient writes all its events for every request of the process (about 1 KB and a few
    /// microseconds each), traced or not: only while traces with line context run.
    /// </summary>
    private static readonly ListenedEventSource s_source = new("System.Net.Http", EventLevel.Informational, EventKeywords.None);
    private static readonly Lazy<HttpClientCallSites> s_instance = new(Create);
    private static readonly ListeningWhileTraced s_listening = new(static () => s_source.Enable(s_instance.Value), static () => s_source.Disable(s_instance.Value));
    // Kept here so the timer lives as long as the listener.
    private static Timer? s_idleCheck;

    /// <summary>A trace with line context starts: listens from now on (synchronously, before the trace's flow goes on).</summary>
    public static void OnContextTraceStarted() => s_listening.TraceStarted();

    /// <summary>A trace with line context stopped: once none has run for <see cref="ListeningWhileTraced.IdleDelay"/>, the listener stops.</summary>
    public static void OnContextTraceStopped() => s_listening.TraceStopped();

    /// <summary>Whether HttpClient's events reach the listener now (or will, once HttpClient's event source exists).</summary>
    internal static bool IsListening => s_listening.IsListening;

    /// <summary>Stops listening if idle at <paramref name="now"/> (tests, benchmarks; a timer does it every second).</summary>
    internal static bool StopIfIdle(long now) => s_listening.StopIfIdle(now);

    private static HttpClientCallSites Create()
    {
        var listener = new HttpClientCallSites();
        s_idleCheck = s_listening.CheckIdleEverySecond();
        return listener;
    }

    protected override void OnEventSourceCreated(EventSource eventSource) => s_source.Created(this, eventSource, s_listening);

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
