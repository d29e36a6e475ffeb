using System.Diagnostics;
using IoTrace.Backends;
using IoTrace.Tracing;

namespace IoTrace.Clients;

/// <summary>
/// A client's sockets to its servers, found by their peers among the process's sockets and watched as shared
/// connections: the client's own threads write and read them for every request at once.
/// </summary>
/// <param name="peers">The servers' addresses, written as the process's sockets name their peers (<see cref="PeerNames"/>).</param>
internal sealed class ServerSockets(Func<IReadOnlySet<string>> peers)
{
    // A client that is not connected (or not yet) is looked for again at most this often.
    private static readonly TimeSpan s_rescanAfter = TimeSpan.FromSeconds(1);

    private readonly Lock _scan = new();
    private SharedConnection[] _sockets = [];
    private long _scannedAt;

    /// <summary>
    /// The client's open sockets now, as <paramref name="backend"/> finds them (without one, among the process's fds, on
    /// Linux), looking for them again once one has closed.
    /// </summary>
    public SharedConnection[] Current(IIoTraceBackend? backend)
    {
        var sockets = Volatile.Read(ref _sockets);
        if (sockets.Length > 0 && Array.TrueForAll(sockets, static s => !s.IsClosed))
        {
            return sockets;
        }

        lock (_scan)
        {
            if (_scannedAt != 0 && Stopwatch.GetElapsedTime(_scannedAt) < s_rescanAfter)
            {
                return _sockets;
            }

            _scannedAt = Stopwatch.GetTimestamp();
            IReadOnlyList<SharedConnection> found = backend is not null ? backend.FindSharedSockets(peers()) : OperatingSystem.IsLinux() ? SharedConnections.WatchSocketsTo(peers()) : [];
            Volatile.Write(ref _sockets, [.. found]);
            return _sockets;
        }
    }
}
