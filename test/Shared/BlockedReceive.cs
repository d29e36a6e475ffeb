using System.Net;
using System.Net.Sockets;
using Xunit;

namespace IoTrace.Tests.Shared;

/// <summary>
/// A receive that blocks: <see cref="Receive"/> waits on a connected loopback socket, and the peer sends its byte only
/// once the kernel shows the receiving thread asleep (state <c>S</c> in its /proc stat), so the call surely spent time
/// off CPU. The sockets are set up before, and the peer runs on a thread of its own that no trace follows: a trace
/// around <see cref="Receive"/> sees that one call.
/// </summary>
internal sealed class BlockedReceive : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly Socket _receiver = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly Socket _sender;

    public BlockedReceive()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen();
        _receiver.Connect(_listener.LocalEndPoint!);
        _sender = _listener.Accept();
    }

    /// <summary>Receives the peer's one byte on the calling thread; returns the bytes received.</summary>
    public int Receive()
    {
        // /proc/thread-self links to "<pid>/task/<tid>" of the calling thread.
        var stat = $"/proc/{new FileInfo("/proc/thread-self").LinkTarget}/stat";
        Exception? failure = null;
        var peer = new Thread(() =>
        {
            try
            {
                var deadline = DateTime.UtcNow.AddSeconds(10);
                while (State(stat) != 'S')
                {
                    if (DateTime.UtcNow > deadline)
                    {
                        throw new TimeoutException("The receiving thread never blocked.");
                    }

                    Thread.Yield();
                }

                _sender.Send([42]);
            }
            catch (Exception e)
            {
                failure = e;
                _receiver.Shutdown(SocketShutdown.Both);
            }
        });
        peer.UnsafeStart();

        var received = _receiver.Receive(new byte[1]);
        peer.Join();
        return failure is null ? received : throw new InvalidOperationException("The peer failed.", failure);
    }

    /// <summary>
    /// Checks the report of a trace around <see cref="Receive"/>, made with the wait feature: one call, one byte, and
    /// a wait that is the call's wall time minus its CPU time and most of the call.
    /// </summary>
    public static void AssertWaitedMostOfTheCall(IoTraceReport report, int received)
    {
        var receive = Assert.Single(report.Aggregates);
        Assert.Equal((1, 1L, 1L), (received, receive.Calls, receive.Bytes));
        Assert.Equal(IoTraceFeatures.All, report.Features); // wait implies time and cpu
        Assert.Equal(receive.Time - receive.Cpu, receive.Wait);
        Assert.True(receive.Wait > receive.Cpu, $"The receive slept until its peer sent: time {receive.Time}, cpu {receive.Cpu}.");
        Assert.Equal(receive.Wait, report.TotalWait);
    }

    public void Dispose()
    {
        _sender.Dispose();
        _receiver.Dispose();
        _listener.Dispose();
    }

    /// <summary>The thread's state: the field after the parenthesised command name.</summary>
    private static char State(string stat)
    {
        var text = File.ReadAllText(stat);
        return text[text.LastIndexOf(')') + 2];
    }
}
