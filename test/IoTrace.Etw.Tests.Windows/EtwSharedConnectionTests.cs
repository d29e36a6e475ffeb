using System.Net;
using System.Net.Sockets;
using IoTrace.Etw.Tests.Windows.TestSupport;
using IoTrace.Tracing;
using Xunit;

namespace IoTrace.Etw.Tests.Windows;

/// <summary>
/// A socket that a client connected outside every request and uses from threads of its own (a multiplexer's), found by
/// its peer: a trace that uses it reports the reads and writes made on it while it ran as shared rows, not its own.
/// </summary>
[Collection(typeof(EtwTracing))]
public sealed class EtwSharedConnectionTests(EtwFixture fixture)
{
    [Fact]
    public void Trace_UsesASocketOtherThreadsReadAndWrite_TheirCallsAreItsSharedRows()
    {
        fixture.Require();
        var peer = new LoopbackPeer(request: 100, answer: 50);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(IPAddress.Loopback, peer.Port);
        var peerName = $"127.0.0.1:{peer.Port}";

        var scope = IoTracer.Start(Strategy.All);
        var connection = Assert.Single(IoTracer.Backend.FindSharedSockets(new HashSet<string>(StringComparer.Ordinal) { peerName }));
        TraceContext.Current!.UseSharedConnection(connection);
        var exchange = new Thread(() =>
        {
            socket.Send(new byte[100]);
            var answer = new byte[50];
            for (var count = 0; count < answer.Length;)
            {
                count += socket.Receive(answer, count, answer.Length - count, SocketFlags.None);
            }
        });
        exchange.UnsafeStart();
        exchange.Join();
        var report = scope.Stop();
        peer.Dispose();

        Assert.Equal(
            [("AFD/Receive", peerName, 1L, 50L), ("AFD/Send", peerName, 1L, 100L)],
            report.SharedAggregates.OrderBy(a => a.Probe, StringComparer.Ordinal).Select(a => (a.Probe, a.Target, a.Calls, a.Bytes)));
        Assert.DoesNotContain(report.Aggregates, a => a.Target == peerName);
    }
}
