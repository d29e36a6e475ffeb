using System.Net;
using IoTrace.Backends;
using IoTrace.Clients;
using IoTrace.Tracing;
using StackExchange.Redis;

namespace IoTrace.StackExchangeRedis;

/// <summary>
/// The sockets of one multiplexer, found by its servers' addresses among the process's sockets and watched as shared
/// connections: the multiplexer's threads write and read them for every request at once.
/// </summary>
internal sealed class RedisSockets
{
    private readonly IConnectionMultiplexer _connection;
    private readonly ServerSockets _sockets;

    public RedisSockets(IConnectionMultiplexer connection)
    {
        _connection = connection;
        _sockets = new ServerSockets(Peers);
    }

    /// <inheritdoc cref="ServerSockets.Current"/>
    public SharedConnection[] Current(IIoTraceBackend? backend) => _sockets.Current(backend);

    /// <summary>The servers' addresses, written as the process's sockets name their peers.</summary>
    private HashSet<string> Peers()
    {
        using var busy = TracerThread.Enter();
        using var hidden = ThreadTraces.Hide();
        var peers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var endPoint in _connection.GetEndPoints())
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
