namespace IoTrace.Tracing;

/// <summary>
/// Marks the tracer's own work on a thread (PDB reads for stack traces, fd lookups), so the hooks pass its IO
/// through untraced: the tracer's IO never appears in a report.
/// </summary>
internal static class TracerThread
{
    [ThreadStatic]
    private static bool t_busy;

    public static bool IsBusy => t_busy;

    /// <summary>Marks the thread busy until the returned scope is disposed; nested scopes keep it busy.</summary>
    public static BusyScope Enter()
    {
        var wasBusy = t_busy;
        t_busy = true;
        return new BusyScope(wasBusy);
    }

    internal readonly struct BusyScope(bool wasBusy) : IDisposable
    {
        public void Dispose() => t_busy = wasBusy;
    }
}
