using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http;
using IoTrace.Attribution;
using IoTrace.Backends;
using IoTrace.Probes;
using IoTrace.Tracing;

namespace IoTrace.Clients;

/// <summary>
/// HttpClient requests sent on a multiplexed connection (HTTP/2, so gRPC too): the connection's own loops read and
/// write for every request at once, in the flow of the request that opened it, so no request's IO can be told apart
/// (<see cref="SourceLocation.SharedConnection"/>: never charged). What HttpClient's own events say of each request is
/// charged instead, in its flow: an <c>http</c> row per server and line, with the requests and their time from start to
/// stop. Fed by <see cref="HttpClientCallSites"/>, which listens while traces with line context run.
/// </summary>
internal static class HttpClientRequests
{
    private static readonly int s_probe = ProbeCatalog.IndexOf("http");
    private static readonly AsyncLocal<PendingRequest?> s_pending = new();
    // Each multiplexed connection, by HttpClient's id, with its socket where the backend counts shared connections.
    private static readonly ConcurrentDictionary<long, SharedConnection?> s_multiplexed = new();
    private static readonly ConcurrentDictionary<string, bool> s_multiplexedPeers = new(StringComparer.Ordinal);

    /// <summary>
    /// HttpClient opened a connection: one of HTTP/2 or later multiplexes its requests. Its peer is kept for the life of
    /// the process, for a kernel backend's late reports (<see cref="IsMultiplexedPeer"/>).
    /// </summary>
    public static void ConnectionEstablished(long connectionId, int versionMajor, string? remoteAddress, int port)
    {
        if (versionMajor >= 2)
        {
            var peer = remoteAddress is not null ? HttpClientPeers.PeerOf(remoteAddress, port) : null;
            var socket = peer is not null ? FindSocket(peer) : null;
            s_multiplexed[connectionId] = socket;
            if (peer is not null)
            {
                s_multiplexedPeers[peer] = true;
            }

            // Written in the opener's flow before the connection's first frame: the opener uses it from its start.
            if (socket is not null && TraceContext.Current is { IsActive: true } opener)
            {
                opener.UseSharedConnection(socket);
            }
        }
    }

    /// <summary>
    /// The new connection's socket, where the backend counts shared connections: the one socket to
    /// <paramref name="peer"/> that no other multiplexed connection has; none where that is not one socket (an HTTP/1.1
    /// connection to the same server beside it).
    /// </summary>
    private static SharedConnection? FindSocket(string peer)
    {
        var backend = TraceContext.Current?.Recorder ?? IoTracer.Backend;
        if ((backend.Capabilities & BackendCapabilities.CountsSharedConnections) == 0)
        {
            return null;
        }

        try
        {
            var unclaimed = backend.FindSharedSockets(new HashSet<string>(StringComparer.Ordinal) { peer })
                .Where(static s => !s_multiplexed.Values.Any(claimed => ReferenceEquals(claimed, s))).ToList();
            return unclaimed.Count == 1 ? unclaimed[0] : null;
        }
        catch (Exception e)
        {
            // Best effort: the requests are still reported, the connection's calls not.
            BackendDiagnostics.Shared.TracerFailed(e);
            return null;
        }
    }

    /// <summary>
    /// Whether <paramref name="peer"/> (a socket's target) is where a multiplexed connection went. A kernel backend sees
    /// that connection's reads and writes without the stack that tells them apart (its loops are precompiled framework
    /// code), charged to the request that opened it: a trace leaves out those it has no line for.
    /// </summary>
    public static bool IsMultiplexedPeer(string peer) => !s_multiplexedPeers.IsEmpty && s_multiplexedPeers.ContainsKey(peer);

    public static void ConnectionClosed(long connectionId) => s_multiplexed.TryRemove(connectionId, out _);

    /// <summary>
    /// A traced flow starts a request. Without TLS, HTTP/2 is used only when asked for exactly (or higher): such a
    /// request is multiplexed whatever connection the listener saw opened.
    /// </summary>
    public static void RequestStart(TraceSession session, SourceLocation? line, string host, int port, int versionMajor, HttpVersionPolicy policy)
    {
        if (session.Records(s_probe))
        {
            s_pending.Value = new PendingRequest(session, line, $"{host}:{port}", Stopwatch.GetTimestamp())
            {
                Multiplexed = versionMajor >= 2 && policy != HttpVersionPolicy.RequestVersionOrLower,
            };
        }
    }

    /// <summary>The flow's request goes out on connection <paramref name="connectionId"/>.</summary>
    public static void RequestHeadersStart(long connectionId)
    {
        if (s_pending.Value is { } pending && s_multiplexed.TryGetValue(connectionId, out var socket))
        {
            pending.Multiplexed = true;
            if (socket is { IsClosed: false } && pending.Session.IsActive)
            {
                pending.Session.UseSharedConnection(socket);
            }
        }
    }

    /// <summary>The flow's request ended (answered or failed): charged if it went out on a multiplexed connection.</summary>
    public static void RequestStop()
    {
        if (s_pending.Value is not { } pending)
        {
            return;
        }

        s_pending.Value = null;
        if (pending.Multiplexed && pending.Session.IsActive)
        {
            pending.Session.Charge(new IoCall(s_probe, -1, 0, pending.Target, pending.Line, 1, 0, Stopwatch.GetTimestamp() - pending.Start, 0));
        }
    }

    private sealed record PendingRequest(TraceSession Session, SourceLocation? Line, string Target, long Start)
    {
        public bool Multiplexed { get; set; }
    }
}
