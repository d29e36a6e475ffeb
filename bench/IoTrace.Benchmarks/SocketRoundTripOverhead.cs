using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace IoTrace.Benchmarks;

/// <summary>
/// One byte sent on a connected loopback TCP socket and received on its peer: two IO calls per operation
/// (the socket send and receive imports), so the time per call is half the time per operation.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet owns the lifetime: [GlobalCleanup] closes them.")]
public class SocketRoundTripOverhead : IoCallOverhead
{
    private readonly byte[] _buffer = new byte[1];
    private Socket? _client;
    private Socket? _server;

    protected override int CallsPerOperation => 2;

    protected override void Open()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _client.Connect(listener.LocalEndPoint!);
        _server = listener.Accept();
    }

    protected override void Close()
    {
        _client?.Dispose();
        _server?.Dispose();
    }

    protected override long Operation()
    {
        _client!.Send(_buffer);
        return _server!.Receive(_buffer);
    }
}
