using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using IoTrace.Tracing;
using Xunit;

namespace IoTrace.Tests.Shared;

/// <summary>
/// A shared connection's socket (a multiplexer's): its calls outside every trace while a trace uses it are that trace's
/// shared rows, the trace's own calls on it its own. Every backend that counts shared connections runs it.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class SharedConnectionWork
{
    /// <summary>Traces the work on the current backend and checks its report.</summary>
    public static void TraceAndCheck()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var peer = ((IPEndPoint)listener.LocalEndpoint).ToString();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndpoint);
        using var server = listener.AcceptSocket();
        var shared = Assert.Single(SharedConnections.WatchSocketsTo(new HashSet<string> { peer }));
        Assert.Equal((int)client.Handle, shared.Fd);

        // Before the trace uses it, and after: not its calls.
        client.Send(new byte[10]);
        var report = IoTracer.Trace(Strategy.All, () =>
        {
            TraceContext.Current!.UseSharedConnection(shared);

            // Sends on a thread of its own, outside the trace's flow (a multiplexer's writer): shared, not the trace's.
            var writer = new Thread(() =>
            {
                client.Send(new byte[1000]);
                client.Send(new byte[234]);
            });
            writer.UnsafeStart();
            writer.Join();

            server.Send(new byte[300]);
            var buffer = new byte[300];
            for (var received = 0; received < buffer.Length;)
            {
                received += client.Receive(buffer.AsSpan(received));
            }
        });
        client.Send(new byte[10]);

        Assert.True(report.IsComplete);
        Assert.Equal([("sendto", peer, 2L, 1234L)], report.SharedAggregates.Select(static a => (a.Probe, a.Target, a.Calls, a.Bytes)));
        // The trace's own calls on the same socket stay its own, and only they are in the totals.
        var own = report.Aggregates.Where(a => a.Target == peer).ToList();
        Assert.Equal(300, own.Where(static a => a.Probe is "recvfrom" or "recvmsg").Sum(static a => a.Bytes));
        Assert.DoesNotContain(own, static a => a.Probe is "sendto" or "sendmsg");
        Assert.Equal(report.Aggregates.Sum(static a => a.Calls), report.TotalCalls);
    }
}
