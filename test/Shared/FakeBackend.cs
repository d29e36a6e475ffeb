using IoTrace.Backends;
using IoTrace.Attribution;
using IoTrace.Tracing;

namespace IoTrace.Tests.Shared;

/// <summary>
/// A backend that records nothing by itself: a test delivers the facts (<see cref="TraceSession.Charge"/>) as a real
/// backend would. Stopped traces complete at once, or, with <see cref="ReportsLate"/>, when the test finishes a flush.
/// <paramref name="capabilities"/> adds what the backend stands for (Windows's operations).
/// </summary>
internal sealed class FakeBackend(string name = "fake", bool reportsLate = false, BackendCapabilities capabilities = BackendCapabilities.None) : IIoTraceBackend
{
    private readonly TaskCompletionSource _flushed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<TraceSession> _started = [];

    public string Name => name;

    public bool ReportsLate => reportsLate;

    public BackendCapabilities Capabilities => capabilities | (reportsLate ? BackendCapabilities.ReportsLate : BackendCapabilities.None);

    /// <summary>What <see cref="DescribeFd"/> answers, by fd.</summary>
    public Dictionary<int, string> Fds { get; } = [];

    public IReadOnlyList<TraceSession> Started
    {
        get
        {
            lock (_started)
            {
                return [.. _started];
            }
        }
    }

    public int Stops { get; private set; }

    public IIoTraceBackend? RecorderForNewTrace() => this;

    public bool TryStart(out string reason)
    {
        reason = string.Empty;
        return true;
    }

    public void OnTraceStarted(TraceSession session)
    {
        lock (_started)
        {
            _started.Add(session);
        }
    }

    public Task OnTraceStopped(TraceSession session) => reportsLate ? _flushed.Task : Task.CompletedTask;

    /// <summary>Completes every stopped trace's wait, as a kernel backend's flush does.</summary>
    public void FinishFlush() => _flushed.TrySetResult();

    public string? DescribeFd(int fd, long generation) => Fds.GetValueOrDefault(fd);

    /// <summary>What <see cref="FollowSharedConnection"/> does, as a backend that counts shared connections would; nothing by default.</summary>
    public Action<SharedConnection, bool>? OnFollow { get; set; }

    public void FollowSharedConnection(SharedConnection connection, bool follow) => OnFollow?.Invoke(connection, follow);

    public void Stop() => Stops++;

    /// <summary>A trace recorded by this backend, as <see cref="Tracer.Start"/> would make it (not started).</summary>
    public TraceSession Session(Strategy strategy = Strategy.All, IoTraceFeatures features = IoTraceFeatures.All, string root = "/", IoTraceRedaction redaction = IoTraceRedaction.None) =>
        new(strategy, features, this, new CallSiteResolver([]), root, redaction);
}
