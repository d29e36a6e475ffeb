namespace IoTrace.Backends;

/// <summary>
/// The one <see cref="IBackendDiagnostics"/> every backend reports to. Backends serve the whole process, so what they
/// report reaches every tracer that is listening (each host's, the block API's), and each logs it in its own log.
/// </summary>
internal sealed class BackendDiagnostics : IBackendDiagnostics
{
    public static readonly BackendDiagnostics Shared = new();

    private IBackendDiagnostics[] _listeners = [];

    /// <summary>Sends every report to <paramref name="listener"/> too, until the returned subscription is disposed.</summary>
    public IDisposable Subscribe(IBackendDiagnostics listener)
    {
        Update(listeners => [.. listeners, listener]);
        return new Subscription(this, listener);
    }

    public void TracerFailed(Exception exception) => Each(l => l.TracerFailed(exception));

    public void StartFailed(string backend, string reason) => Each(l => l.StartFailed(backend, reason));

    public void BackendFailed(string backend, string reason) => Each(l => l.BackendFailed(backend, reason));

    public void CallsLost(string backend, string reason) => Each(l => l.CallsLost(backend, reason));

    private void Each(Action<IBackendDiagnostics> report)
    {
        foreach (var listener in Volatile.Read(ref _listeners))
        {
            try
            {
                report(listener);
            }
            catch (Exception)
            {
                // A listener's logger failed: the others still hear it, and the backend goes on.
            }
        }
    }

    private void Update(Func<IBackendDiagnostics[], IBackendDiagnostics[]> change)
    {
        var current = Volatile.Read(ref _listeners);
        while (Interlocked.CompareExchange(ref _listeners, change(current), current) is var seen && !ReferenceEquals(seen, current))
        {
            current = seen;
        }
    }

    private sealed class Subscription(BackendDiagnostics hub, IBackendDiagnostics listener) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                hub.Update(listeners => [.. listeners.Where(l => !ReferenceEquals(l, listener))]);
            }
        }
    }
}
