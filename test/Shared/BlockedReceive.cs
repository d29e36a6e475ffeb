using System.Net;
using System.Net.Sockets;
using IoTrace.Platform.Linux;
using Xunit;

namespace IoTrace.Tests.Shared;

/// <summary>
/// A receive that blocks: <see cref="Receive"/> waits on a connected loopback socket, and the peer sends its byte only
/// once the kernel shows the receiving thread asleep in it, off its CPU, so the call surely spent time off CPU. The sockets are set up before, and the peer runs on a thread of its own that no trace follows: a trace
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

    /// <summary>
    /// Receives the peer's one byte on the calling thread; returns the bytes received. <paramref name="wakeOnAnotherCpu"/>:
    /// the thread blocks on one CPU and is moved to another while it sleeps, so that it wakes there (a kernel backend
    /// then reads the task's clocks on two CPUs).
    /// </summary>
    public int Receive(bool wakeOnAnotherCpu = false)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The blocked receive reads the thread's state from /proc.");
        }

        // /proc/thread-self links to "<pid>/task/<tid>" of the calling thread.
        var task = $"/proc/{new FileInfo("/proc/thread-self").LinkTarget}";
        var tid = int.Parse(Path.GetFileName(task), System.Globalization.CultureInfo.InvariantCulture);
        var cpus = CpuAffinity.Of(0) ?? [];
        if (wakeOnAnotherCpu)
        {
            Assert.True(cpus.Length >= 2, $"The thread may run on {cpus.Length} CPU(s); moving it needs two.");
            Assert.True(CpuAffinity.TrySet(0, [cpus[0]]), "The thread could not be put on one CPU.");
        }

        Exception? failure = null;
        var peer = new Thread(() =>
        {
            try
            {
                WaitUntilAsleep(task);
                if (wakeOnAnotherCpu && OperatingSystem.IsLinux() && !CpuAffinity.TrySet(tid, [cpus[1]]))
                {
                    throw new InvalidOperationException("The receiving thread could not be moved to another CPU.");
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

        try
        {
            var received = _receiver.Receive(new byte[1]);
            peer.Join();
            return failure is null ? received : throw new InvalidOperationException("The peer failed.", failure);
        }
        finally
        {
            if (wakeOnAnotherCpu)
            {
                CpuAffinity.TrySet(0, cpus);
            }
        }
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
        Assert.True(receive.Cpu > TimeSpan.Zero, $"The receive ran on a CPU before and after it slept: time {receive.Time}, cpu {receive.Cpu}.");
        Assert.Equal(receive.Wait, report.TotalWait);
    }

    public void Dispose()
    {
        _sender.Dispose();
        _receiver.Dispose();
        _listener.Dispose();
    }

    /// <summary>
    /// Waits until the thread sleeps in a system call, off its CPU: state <c>S</c>, and its <c>syscall</c> file naming
    /// the call rather than <c>running</c> (the kernel answers that only once the thread has left the CPU; state
    /// <c>S</c> alone is set just before it leaves, and a wakeup then may find it still running).
    /// </summary>
    private static void WaitUntilAsleep(string task)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (State($"{task}/stat") != 'S' || File.ReadAllText($"{task}/syscall").StartsWith("running", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The receiving thread never blocked.");
            }

            Thread.Yield();
        }
    }

    /// <summary>The thread's state: the field after the parenthesised command name.</summary>
    private static char State(string stat)
    {
        var text = File.ReadAllText(stat);
        return text[text.LastIndexOf(')') + 2];
    }
}
