using System.Diagnostics.Tracing;

namespace IoTrace.Core;

/// <summary>
/// HttpClient opens connections and sends on runtime threads where no application frame is on the stack.
/// Its telemetry event <c>RequestStart</c> is written synchronously in the caller's flow, inside HttpClient's
/// own async method: the application line found there is handed down to that request's IO, and only to it
/// (in process), or noted in the trace with the request's peer (kernel backends, which match it at flush).
/// </summary>
internal sealed class HttpClientCallSites : EventListener
{
    private const string HttpEventSource = "System.Net.Http";
    private static readonly Lazy<HttpClientCallSites> s_instance = new(() => new HttpClientCallSites());

    /// <summary>Starts listening, once per process; the first traces with line context call it.</summary>
    public static void EnsureListening() => _ = s_instance.Value;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == HttpEventSource)
        {
            EnableEvents(eventSource, EventLevel.Informational);
        }
    }

    // In-process traces get the line through the flow (TraceContext.LastCallSite, read by the hooks). A kernel backend
    // reads the trace at flush instead: the request's peer and line are noted there, and the thread is hidden from the
    // kernel meanwhile, or the resolver's own IO (PDB reads, assembly loads) would be charged to the request.
    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName == "ConnectionEstablished")
        {
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

        if (!session.HookedInProcess)
        {
            OnKernelTracedRequest(session, eventData);
            return;
        }

        using var busy = TracerThread.Enter();
        try
        {
            var resolved = session.Resolver.ResolveHere();
            if (resolved.Site.IsApplication)
            {
                TraceContext.LastCallSite = resolved.Site;
            }
        }
        catch (Exception e)
        {
            // Attribution is best effort; the request goes on, and the failure is logged once.
            IoTracer.ReportFailure(e);
        }
    }

    private static void OnKernelTracedRequest(TraceSession session, EventWrittenEventArgs eventData)
    {
        if (Payload(eventData, "host") is not string host || Payload(eventData, "port") is not int port)
        {
            return;
        }

        using var busy = TracerThread.Enter();
        using var hidden = TraceContext.HideFromKernel();
        try
        {
            var resolved = session.Resolver.ResolveHere();
            session.RecordHttpRequest(host, port, resolved.Site.IsApplication ? resolved.Site : null);
            HttpClientConnections.Resolve(host, port);
        }
        catch (Exception e)
        {
            // Noted without a line: its sockets then stay without one too, rather than take another request's.
            session.RecordHttpRequest(host, port, null);
            IoTracer.ReportFailure(e);
        }
    }

    private static object? Payload(EventWrittenEventArgs eventData, string name)
    {
        var index = eventData.PayloadNames?.IndexOf(name) ?? -1;
        return index >= 0 && eventData.Payload is { } payload && index < payload.Count ? payload[index] : null;
    }
}
