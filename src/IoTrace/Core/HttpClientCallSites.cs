using System.Diagnostics.Tracing;

namespace IoTrace.Core;

/// <summary>
/// HttpClient opens connections and sends on runtime threads where no application frame is on the stack.
/// Its telemetry event <c>RequestStart</c> is written synchronously in the caller's flow, inside HttpClient's
/// own async method: the application line found there is handed down to that request's IO, and only to it.
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

    // Only for in-process traces: a kernel backend would charge this resolver's own IO (PDB reads) to the request,
    // and it takes its lines from the kernel's stacks.
    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName != "RequestStart" || TraceContext.Current is not { IsActive: true, KeepsContext: true, HookedInProcess: true } session)
        {
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
}
