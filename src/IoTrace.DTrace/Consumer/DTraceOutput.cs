using System.Diagnostics;
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
    /// <summary>dtrace prints what it read every 10 ms (its switchrate): flushes closer than that would read nothing more.</summary>
    private static readonly TimeSpan s_flushSpacing = TimeSpan.FromMilliseconds(10);

    // Released by RequestFlush; the flush thread takes every request made so far at once.
    private readonly SemaphoreSlim _flushWanted = new(0);
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

    /// <summary>
    /// How long the flush thread waits for a request before it raises the heartbeat; infinite where dtrace's own line is
    /// the heartbeat.
    /// </summary>
    protected virtual TimeSpan FlushThreadHeartbeat => Timeout.InfiniteTimeSpan;


    /// <summary>Null once the script's ready line is read, else why dtrace will not be ready.</summary>
    protected TaskCompletionSource<string?> Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected bool IsDisposed => _disposed;

    /// <summary>Asks for a flush: the next one not requested yet, or a later one.</summary>
    public void RequestFlush() => _flushWanted.Release();

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _flushWanted.Release();
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

    /// <summary>
    /// On the flush thread, which belongs to no trace (its calls would count): makes flush <paramref name="sequence"/>,
    /// which answers every request made before it.
    /// </summary>
    protected abstract void MakeFlush(long sequence);

    /// <summary>Also wakes what the flush thread waits for.</summary>
    protected virtual void OnDisposing()
    {
    }

    /// <summary>
    /// Makes the flushes wanted until disposed: one for all the requests made meanwhile, at most one per spacing (under
    /// load, one flush answers many stopped traces).
    /// </summary>
    private void MakeFlushes()
    {
        var last = 0L;
        while (!_disposed)
        {
            if (!_flushWanted.Wait(FlushThreadHeartbeat))
            {
                OnHeartbeat();
                continue;
            }

            while (_flushWanted.CurrentCount > 0)
            {
                _flushWanted.Wait();
            }

            if (_disposed)
            {
                return;
            }

            var since = Stopwatch.GetElapsedTime(last);
            if (since < s_flushSpacing)
            {
                Thread.Sleep(s_flushSpacing - since);
            }

            last = Stopwatch.GetTimestamp();
            MakeFlush(Interlocked.Increment(ref _requested));
        }
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
