using System.Runtime.Versioning;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// The dtrace process the backend reads, whichever script it runs (<see cref="DTraceProcess"/>: a line per call, Linux;
/// <see cref="SyscallProviderProcess"/>: aggregations, the other systems): started, read on one thread and asked for
/// flushes on another, each flush numbered from 1 as it is requested and reported, in order, with what it printed.
/// </summary>
[SupportedOSPlatform("linux")]
internal abstract class DTraceOutput : IDisposable
{
    private long _requested;
    private volatile bool _disposed;

    protected DTraceOutput(DTraceChild child)
    {
        Child = child;
    }

    /// <summary>dtrace's heartbeat, about once a second: stopped traces whose flush is overdue can be given up.</summary>
    public event Action? Heartbeat;

    /// <summary>dtrace said calls were dropped: the traces running then are short.</summary>
    public event Action<string>? Lost
    {
        add => Child.Lost += value;
        remove => Child.Lost -= value;
    }

    /// <summary>dtrace ended, or wrote something the backend cannot go on after.</summary>
    public event Action<string>? Failed;

    /// <summary>The last flush requested.</summary>
    public long LastRequested => Interlocked.Read(ref _requested);

    /// <summary>
    /// How many flushes late a call is printed: one that returned before flush <c>n</c> was requested is in flush
    /// <c>n + FlushesLate</c> or an earlier one.
    /// </summary>
    public abstract int FlushesLate { get; }

    /// <summary>dtrace's PID, for tests.</summary>
    internal int ProcessId => Child.ProcessId;

    protected DTraceChild Child { get; }

    /// <summary>Released by <see cref="RequestFlush"/>; the flush thread takes every request made so far at once.</summary>
    protected SemaphoreSlim FlushWanted { get; } = new(0);

    /// <summary>Null once the script's ready line is read, else why dtrace will not be ready.</summary>
    protected TaskCompletionSource<string?> Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected bool IsDisposed => _disposed;

    /// <summary>Asks for a flush: the next one not requested yet, or a later one.</summary>
    public void RequestFlush() => FlushWanted.Release();

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        FlushWanted.Release();
        OnDisposing();
        Child.Dispose();
    }

    /// <summary>Starts <paramref name="output"/>'s threads and waits for its script's probes to be enabled; stops it and throws if they are not.</summary>
    protected static T Started<T>(T output, TimeSpan timeout)
        where T : DTraceOutput
    {
        if (output.Child.Run(output.ReadOutput, output.MakeFlushes, output.Ready.Task, timeout) is { } failure)
        {
            output.Dispose();
            throw new InvalidOperationException(failure);
        }

        return output;
    }

    /// <summary>Reads dtrace's output until it ends (<see cref="DTraceChild.ReadLine"/>), then calls <see cref="Ended"/>.</summary>
    protected abstract void ReadOutput();

    /// <summary>Makes the flushes wanted (<see cref="FlushWanted"/>, <see cref="NextFlush"/>) until disposed.</summary>
    protected abstract void MakeFlushes();

    /// <summary>Also wakes what the flush thread waits for.</summary>
    protected virtual void OnDisposing()
    {
    }

    /// <summary>The number of the flush about to be made.</summary>
    protected long NextFlush() => Interlocked.Increment(ref _requested);

    /// <summary>Waits for a flush to be wanted, and takes every request made so far; false, after the heartbeat, when none came within <paramref name="heartbeat"/>.</summary>
    protected bool WaitForFlushWanted(TimeSpan heartbeat)
    {
        if (FlushWanted.Wait(heartbeat))
        {
            // One flush answers every request made before it.
            while (FlushWanted.CurrentCount > 0)
            {
                FlushWanted.Wait();
            }

            return true;
        }

        OnHeartbeat();
        return false;
    }

    protected void OnHeartbeat() => Heartbeat?.Invoke();

    /// <summary>dtrace's output ended: says why, and fails the backend unless it was stopped.</summary>
    protected void Ended()
    {
        var reason = Child.ExitReason();
        Ready.TrySetResult(reason);
        if (!_disposed)
        {
            Failed?.Invoke(reason);
        }
    }
}
