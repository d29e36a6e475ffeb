using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Reflection;
using IoTrace.Backends;
using IoTrace.Tracing;

namespace IoTrace.Attribution;

/// <summary>
/// An asynchronous name resolution (<c>Dns.GetHostAddressesAsync</c>) runs glibc's getaddrinfo on a thread-pool thread,
/// with Dns's frames and none of the app's on its stack (<see cref="SourceLocation.NameResolution"/>): the in-process
/// backend sees the getaddrinfo call there, a kernel backend glibc's reads of /etc/hosts and /etc/resolv.conf. Dns's
/// telemetry event <c>ResolutionStart</c> is written synchronously in the caller's flow, before the work is queued: the
/// application line found there is noted in the trace, which gives it to those calls when it stops. A synchronous
/// resolution's calls have the app's frame on their own stacks, so only asynchronous ones are noted.
/// </summary>
internal sealed class NameResolutionCallSites : EventListener
{
    private const string NameResolutionEventSource = "System.Net.NameResolution";
    private static readonly Lazy<NameResolutionCallSites> s_instance = new(static () => new NameResolutionCallSites());

    /// <summary>
    /// A trace with line context starts: listens from now on, for the process's life. Dns writes two events per
    /// resolution while listened to, and resolutions are rare beside IO calls.
    /// </summary>
    public static void OnContextTraceStarted() => _ = s_instance.Value;

    /// <summary>Whether the listener exists (tests).</summary>
    internal static bool IsListening => s_instance.IsValueCreated;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        // Called from the base constructor for sources that exist already, and later for new ones: no instance state.
        if (eventSource.Name == NameResolutionEventSource)
        {
            EnableEvents(eventSource, EventLevel.Informational);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName != "ResolutionStart" || TraceContext.Current is not { IsActive: true, KeepsContext: true } session)
        {
            return;
        }

        if (!IsAsynchronous())
        {
            return;
        }

        // Without an app frame here (HttpClient connecting by name), the line the flow inherited: the request's. Without
        // either the resolution goes on, and its calls keep no line.
        var site = TraceContext.ResolveCaller(session) is { } resolved ? TraceContext.SiteInFlow(resolved, session) : null;
        session.RecordNameResolution(site is { IsApplication: true } ? site : null);
    }

    /// <summary>
    /// Whether the resolution being started is an asynchronous one: a method of Dns's assembly that returns a task is on
    /// the stack (Dns.GetHostAddressesAsync's). Resolutions are rare, so a stack trace is affordable; it is the tracer's
    /// own work, hidden from the trace.
    /// </summary>
    private static bool IsAsynchronous()
    {
        using var busy = TracerThread.Enter();
        using var hidden = ThreadTraces.Hide();
        try
        {
            foreach (var frame in new StackTrace(2, fNeedFileInfo: false).GetFrames())
            {
                if (frame.GetMethod() is MethodInfo method
                    && CallSiteResolver.IsNameResolutionCode(method)
                    && typeof(Task).IsAssignableFrom(method.ReturnType))
                {
                    return true;
                }
            }
        }
        catch (Exception e)
        {
            // Best effort, as attribution is: the resolution goes on, its calls without a line; logged once.
            BackendDiagnostics.Shared.TracerFailed(e);
        }

        return false;
    }
}
