using IoTrace.Attribution;
using IoTrace.Tracing;

namespace IoTrace.Backends;

/// <summary>
/// The seam between the core and a mechanism that sees a process's IO calls. A backend delivers facts; the trace
/// (<see cref="TraceSession"/>) decides what they mean.
/// </summary>
/// <remarks>
/// <para>What a backend delivers, for each call of a trace it records, through <see cref="TraceSession.Charge"/>: the
/// probe (<see cref="Probes.ProbeCatalog"/>), the fd and its generation (which life of the number: it changes when the
/// fd is closed), the target if the call names one (an open's path, a connect's peer), the call site it found (an
/// application line, a line of no application, or <see cref="SourceLocation.StackIncomplete"/>), and calls, bytes,
/// wall and CPU time. Facts about an fd that arrive apart from its calls go to <see cref="TraceSession.NameFd"/>. A
/// backend delivers either per call, in the call's flow (in process), or pre-aggregated, later, from another thread (a
/// kernel backend's flush): then <see cref="OnTraceStopped"/> completes once every call made before the stop is charged.</para>
/// <para>What the trace does with them, the same for every backend: each fd's life and target, the line a call without
/// one takes (its fd's opener, its HttpClient request's), redaction, the totals and the report.</para>
/// <para>One instance serves a process (its hooks or its kernel program are process-wide); traces start and stop
/// concurrently. Failures go to the <see cref="IBackendDiagnostics"/> the backend was created with, never to the caller.</para>
/// </remarks>
internal interface IIoTraceBackend
{
    /// <summary>The name reports carry (<c>inprocess</c>, <c>ebpf</c>, <c>none</c>, ...).</summary>
    string Name { get; }

    /// <summary>What the backend can see and measure.</summary>
    BackendCapabilities Capabilities { get; }

    /// <summary>
    /// The backend that records a trace starting now: this one once it is ready, the one serving meanwhile (a
    /// composite), or null where none can record now (a kernel backend still attaching, which goes on attaching in the
    /// background, or one that failed). Never blocks.
    /// </summary>
    IIoTraceBackend? RecorderForNewTrace();

    /// <summary>Gets ready to trace now (installs hooks, attaches) rather than at the first trace; false with the reason if it cannot. May block.</summary>
    bool TryStart(out string reason);

    /// <summary>Begins recording <paramref name="session"/>'s flow; the session was created with this backend as its recorder. Never throws.</summary>
    void OnTraceStarted(TraceSession session);

    /// <summary>
    /// Stops recording <paramref name="session"/>. Never throws. The task completes once every call made before the stop
    /// has been charged (at once in process; a kernel backend waits for its next flush), and in any case within a bounded
    /// time, with the session marked incomplete if it had to give up: callers await it without a timeout of their own.
    /// </summary>
    Task OnTraceStopped(TraceSession session);

    /// <summary>
    /// What an fd opened before the trace is now (a path, a peer), if the backend can tell and the fd is still in life
    /// <paramref name="generation"/> (a backend that reports late may describe it after its close, when its number is
    /// another file's); else null.
    /// </summary>
    string? DescribeFd(int fd, long generation);

    /// <summary>
    /// A trace started using <paramref name="connection"/> and none did before (<paramref name="follow"/>), or the last
    /// one stopped: a backend that counts shared connections (<see cref="BackendCapabilities.CountsSharedConnections"/>)
    /// and must be told which sockets to count starts or stops counting its calls outside traces. Never throws.
    /// </summary>
    void FollowSharedConnection(SharedConnection connection, bool follow)
    {
    }

    /// <summary>
    /// The process's sockets connected to one of <paramref name="peers"/> (written as <see cref="PeerNames"/> writes them),
    /// each watched as a <see cref="SharedConnection"/> (the same one for the same socket's life): how a multiplexed
    /// client's connections are found. None where the backend does not count shared connections. The default lists the
    /// process's fds (Linux), as every backend there numbers them. The tracer's own work; a failure is the caller's to
    /// report.
    /// </summary>
    IReadOnlyList<SharedConnection> FindSharedSockets(IReadOnlySet<string> peers) => SharedConnections.WatchSocketsFor(Capabilities, peers);

    /// <summary>Undoes everything the backend changed in the process. A later trace may start it again.</summary>
    void Stop();
}
