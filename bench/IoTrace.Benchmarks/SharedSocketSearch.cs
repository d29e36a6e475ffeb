using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using BenchmarkDotNet.Attributes;
using IoTrace.Tracing;

namespace IoTrace.Benchmarks;

/// <summary>
/// What finding a multiplexed connection's socket by its server costs (<see cref="SharedConnections.WatchSocketsTo"/>:
/// every fd of the process listed, each asked its peer): once per StackExchange.Redis multiplexer, and once per HTTP/2
/// connection HttpClient opens, in the flow that opens it. Measured with the process holding this many other open fds
/// (both ends of loopback TCP connections to another server, as a server's clients' connections are) beside the one
/// connection to find.
/// </summary>
[SupportedOSPlatform("linux")]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet disposes in [GlobalCleanup].")]
public class SharedSocketSearch
{
    private readonly List<Socket> _others = [];
    private readonly HashSet<string> _peers = new(StringComparer.Ordinal);
    private TcpListener? _listener;
    private TcpListener? _otherListener;
    private Socket? _client;
    private Socket? _server;

    [Params(100, 1_000, 10_000)]
    public int OtherFds { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _client.Connect(_listener.LocalEndpoint);
        _server = _listener.AcceptSocket();
        _peers.Add(((IPEndPoint)_listener.LocalEndpoint).ToString());
        _otherListener = new TcpListener(IPAddress.Loopback, 0);
        _otherListener.Start(OtherFds);
        for (var i = 0; i < OtherFds / 2; i++)
        {
            var other = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            other.Connect(_otherListener.LocalEndpoint);
            _others.Add(other);
            _others.Add(_otherListener.AcceptSocket());
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _others.ForEach(static s => s.Dispose());
        _server?.Dispose();
        _client?.Dispose();
        _listener?.Stop();
        _otherListener?.Stop();
    }

    [Benchmark]
    public int WatchSocketsTo() => SharedConnections.WatchSocketsTo(_peers).Count;
}
