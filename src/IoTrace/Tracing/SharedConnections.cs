using System.Runtime.Versioning;
using IoTrace.Backends;
using IoTrace.Platform.Linux;

namespace IoTrace.Tracing;

/// <summary>
/// The process's <see cref="SharedConnection"/>s by fd number: a backend that sees every call of the process asks it for
/// each call made outside a trace, so the lookup is one array read.
/// </summary>
internal static class SharedConnections
{
    private const int MaxFd = 1 << 20;
    private static readonly Lock s_lock = new();
    private static SharedConnection?[] s_byFd = new SharedConnection?[64];
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<long, SharedConnection> s_byId = new();

    /// <summary>The shared connection on <paramref name="fd"/>, if one is watched there.</summary>
    public static SharedConnection? Get(int fd)
    {
        var byFd = s_byFd;
        return (uint)fd < (uint)byFd.Length ? Volatile.Read(ref byFd[fd]) : null;
    }

    /// <summary>The connection a kernel backend counted calls for under <paramref name="id"/> (<see cref="SharedConnection.Id"/>), if it is still watched.</summary>
    public static SharedConnection? ById(long id) => s_byId.TryGetValue(id, out var connection) ? connection : null;

    /// <summary>Watches <paramref name="fd"/>'s current life (<see cref="FdOwners.Closes"/>) as a shared connection, once.</summary>
    public static SharedConnection? Watch(int fd, string? peer)
    {
        if ((uint)fd >= MaxFd)
        {
            return null;
        }

        lock (s_lock)
        {
            var generation = FdOwners.Closes(fd);
            if (Get(fd) is { IsClosed: false } known && known.Generation == generation)
            {
                return known;
            }

            var byFd = s_byFd;
            if (fd >= byFd.Length)
            {
                var grown = new SharedConnection?[Math.Min(MaxFd, Math.Max(fd + 1, byFd.Length * 2))];
                Array.Copy(byFd, grown, byFd.Length);
                s_byFd = byFd = grown;
            }

            if (byFd[fd] is { } replaced)
            {
                s_byId.TryRemove(replaced.Id, out _);
            }

            var connection = new SharedConnection(fd, generation, peer);
            Volatile.Write(ref byFd[fd], connection);
            s_byId[connection.Id] = connection;

            // Closed while it was being watched: its number is no longer this socket.
            if (FdOwners.Closes(fd) != generation)
            {
                connection.Close();
                byFd[fd] = null;
                s_byId.TryRemove(connection.Id, out _);
                return null;
            }

            return connection;
        }
    }

    /// <summary>The fd is being closed: its connection ends, and whatever reuses the number is not it.</summary>
    public static void Forget(int fd)
    {
        var byFd = s_byFd;
        if ((uint)fd < (uint)byFd.Length && Volatile.Read(ref byFd[fd]) is { } connection)
        {
            connection.Close();
            Interlocked.CompareExchange(ref byFd[fd], null, connection);
            s_byId.TryRemove(connection.Id, out _);
        }
    }

    /// <summary>
    /// Whether the connection's fd number still names its server: a kernel backend sees no close in process, and a
    /// reconnected client's number may be another socket's by now. The tracer's own call, hidden from the trace.
    /// </summary>
    [SupportedOSPlatform("linux")]
    public static bool StillConnected(SharedConnection connection)
    {
        using var busy = TracerThread.Enter();
        using var hidden = ThreadTraces.Hide();
        return connection.Peer is not null && FdTargets.PeerOf(connection.Fd) == connection.Peer;
    }

    /// <summary>
    /// <see cref="WatchSocketsTo"/> for a backend with <paramref name="capabilities"/> that numbers fds as the process
    /// does: on Linux, where it counts shared connections; else none.
    /// </summary>
    public static IReadOnlyList<SharedConnection> WatchSocketsFor(BackendCapabilities capabilities, IReadOnlySet<string> peers) =>
        OperatingSystem.IsLinux() && (capabilities & BackendCapabilities.CountsSharedConnections) != 0 ? WatchSocketsTo(peers) : [];

    /// <summary>
    /// Watches every socket of the process connected to one of <paramref name="peers"/> (written as <see cref="PeerNames"/>
    /// writes them): a client that keeps its sockets to itself is found by its servers. The tracer's own work.
    /// </summary>
    [SupportedOSPlatform("linux")]
    public static List<SharedConnection> WatchSocketsTo(IReadOnlySet<string> peers)
    {
        var found = new List<SharedConnection>();
        using var busy = TracerThread.Enter();
        using var hidden = ThreadTraces.Hide();
        foreach (var fd in OpenFds.List())
        {
            if (FdTargets.PeerOf(fd) is { } peer && peers.Contains(peer) && Watch(fd, peer) is { } connection)
            {
                found.Add(connection);
            }
        }

        return found;
    }
}
