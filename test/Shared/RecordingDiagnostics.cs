using IoTrace.Backends;

namespace IoTrace.Tests.Shared;

/// <summary>Hears what backends report (<see cref="BackendDiagnostics.Shared"/>) while subscribed, as a tracer's log would.</summary>
internal sealed class RecordingDiagnostics : IBackendDiagnostics, IDisposable
{
    private readonly List<string> _reports = [];
    private readonly IDisposable _subscription;

    public RecordingDiagnostics() => _subscription = BackendDiagnostics.Shared.Subscribe(this);

    /// <summary>Each report as "kind: backend: reason".</summary>
    public IReadOnlyList<string> Reports
    {
        get
        {
            lock (_reports)
            {
                return [.. _reports];
            }
        }
    }

    public void TracerFailed(Exception exception) => Add($"TracerFailed: {exception.Message}");

    public void StartFailed(string backend, string reason) => Add($"StartFailed: {backend}: {reason}");

    public void BackendFailed(string backend, string reason) => Add($"BackendFailed: {backend}: {reason}");

    public void CallsLost(string backend, string reason) => Add($"CallsLost: {backend}: {reason}");

    public void Dispose() => _subscription.Dispose();

    private void Add(string report)
    {
        lock (_reports)
        {
            _reports.Add(report);
        }
    }
}
