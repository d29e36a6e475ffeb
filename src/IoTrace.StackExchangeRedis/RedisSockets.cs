using System.Diagnostics;
using System.Net;
using IoTrace.Backends;
using IoTrace.Tracing;
using StackExchange.Redis;

namespace IoTrace.StackExchangeRedis;

/// <summary>
/// The sockets of one multiplexer, found by its servers' addresses among the process's sockets and watched as shared
/// connections: the multiplexer's threads write and read them for every request at once.
/// </summary>
internal sealed class RedisSockets(IConnectionMultiplexer connection)
{
    // A multiplexer that is not connected (or not yet) is looked for again at most this often.
    private static readonly TimeSpan s_rescanAfter = TimeSpan.FromSeconds(1);

    private SharedConnection[] _sockets = [];
    private long _scannedAt;

    /// <summary>
    /// The multiplexer's open sockets now, as <paramref name="backend"/> finds them (without one, among the process's
    /// fds, on Linux), looking for them again once one has closed.
    /// </summary>
    public SharedConnection[] Current(IIoTraceBackend? backend)
    {
        var sockets = Volatile.Read(ref _sockets);
        if (sockets.Length > 0 && Array.TrueForAll(sockets, static s => !s.IsClosed))
        {
            return sockets;
        }

        lock (this)
        {
            if (_scannedAt != 0 && Stopwatch.GetElapsedTime(_scannedAt) < s_rescanAfter)
            {
                return _sockets;
            }

            _scannedAt = Stopwatch.GetTimestamp();
            IReadOnlyList<SharedConnection> found = backend is not null ? backend.FindSharedSockets(Peers()) : OperatingSystem.IsLinux() ? SharedConnections.WatchSocketsTo(Peers()) : [];
            Volatile.Write(ref _sockets, [.. found]);
            return _sockets;
        }
    }

    /// <summary>The servers' addresses, written as the process's sockets name their peers.</summary>
    private HashSet<string> Peers()
    {
        using var busy = TracerThread.Enter();
        using var hidden = ThreadTraces.Hide();
        var peers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var endPoint in connection.GetEndPoints())
        {
            switch (endPoint)
            {
                case IPEndPoint ip:
                    peers.Add(PeerNames.Of(ip.Address, ip.Port));
                    break;
                case DnsEndPoint dns:
                    foreach (var address in Dns.GetHostAddresses(dns.Host))
                    {
                        peers.Add(PeerNames.Of(address, dns.Port));
                    }

                    break;
            }
        }

        return peers;
    }
}
