using IoTrace.Backends;
using IoTrace.Tracing;

namespace IoTrace.Clients;

/// <summary>The client event sources of the process; every trace asks each of them once, when it stops.</summary>
internal static class ClientEventSources
{
    private static readonly Lock s_lock = new();
    private static IClientEventSource[] s_sources = [];

    public static void Add(IClientEventSource source)
    {
        lock (s_lock)
        {
            if (!s_sources.Contains(source))
            {
                s_sources = [.. s_sources, source];
            }
        }
    }

    /// <summary>
    /// Charges what each source has for <paramref name="trace"/>. A source that throws makes the report incomplete, and
    /// the trace goes on: the tracer never breaks the app.
    /// </summary>
    public static void ChargeAll(TraceSession trace)
    {
        foreach (var source in Volatile.Read(ref s_sources))
        {
            try
            {
                source.ChargeTo(trace);
            }
            catch (Exception e)
            {
                trace.MarkIncomplete();
                BackendDiagnostics.Shared.TracerFailed(e);
            }
        }
    }
}
