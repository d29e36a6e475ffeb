using System.Net;
using System.Net.Sockets;

namespace IoTrace.Etw.Tests.Windows.TestSupport;

/// <summary>
/// A peer on 127.0.0.1 that accepts one connection, reads a request of a known size and answers with a known number of
/// bytes, on a thread of its own started before any trace: its IO is in none.
/// </summary>
internal sealed class LoopbackPeer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Thread _thread;

    public LoopbackPeer(int request, int answer)
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _thread = new Thread(() =>
        {
            using var peer = _listener.AcceptSocket();
            var received = new byte[request];
            for (var count = 0; count < request;)
            {
                count += peer.Receive(received, count, request - count, SocketFlags.None);
            }

            peer.Send(new byte[answer]);
        })
        {
            IsBackground = true,
        };
        _thread.Start();
    }

    public int Port { get; }

    /// <summary>Waits for the exchange to end.</summary>
    public void Dispose()
    {
        _thread.Join();
        _listener.Dispose();
    }
}
