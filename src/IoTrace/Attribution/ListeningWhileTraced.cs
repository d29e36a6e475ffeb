using System.Diagnostics;
using IoTrace.Tracing;

namespace IoTrace.Attribution;

/// <summary>
/// Listens to something that, once listened to, costs the whole process, traced or not (an event source's events, a
/// client's activity source): while traces that need it run, and for <see cref="IdleDelay"/> after the last one.
/// <paramref name="start"/> and <paramref name="stop"/> run under one lock, each as the listening begins and ends;
/// <see cref="IsListening"/> is true before <paramref name="start"/> runs and false before <paramref name="stop"/> runs.
/// </summary>
internal sealed class ListeningWhileTraced(Action start, Action stop)
{
    /// <summary>How long after the last trace the listener stops.</summary>
    internal static readonly TimeSpan IdleDelay = TimeSpan.FromSeconds(10);

    private readonly Lock _toggle = new();
    private int _traces;
    private long _lastStop;
    private int _listening;

    /// <summary>Whether the listening is on now.</summary>
    public bool IsListening => Volatile.Read(ref _listening) != 0;

    /// <summary>
    /// Checks every second whether the listening can stop; called once, when the listener is first made. The caller
    /// keeps the timer for as long as the listener lives.
    /// </summary>
    public Timer CheckIdleEverySecond()
    {
        // Without the creating flow's context: it may be a traced request's, which the timer would keep alive.
        using (SuppressedFlow.Begin())
        {
            return new Timer(_ => StopIfIdle(Stopwatch.GetTimestamp()), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>A trace starts: listens from now on (synchronously, before the trace's flow goes on).</summary>
    public void TraceStarted()
    {
        Interlocked.Increment(ref _traces);
        if (Volatile.Read(ref _listening) == 0)
        {
            lock (_toggle)
            {
                if (_listening == 0)
                {
                    // A full fence: what start reads was written before, by a source's creation, or that sees this.
                    Interlocked.Exchange(ref _listening, 1);
                    start();
                }
            }
        }
    }

    /// <summary>A trace stopped.</summary>
    public void TraceStopped()
    {
        Volatile.Write(ref _lastStop, Stopwatch.GetTimestamp());
        Interlocked.Decrement(ref _traces);
    }

    /// <summary>
    /// Stops listening when no trace runs and none stopped within <see cref="IdleDelay"/> of <paramref name="now"/> (a
    /// <see cref="Stopwatch"/> timestamp). Returns whether it stopped.
    /// </summary>
    public bool StopIfIdle(long now)
    {
        lock (_toggle)
        {
            if (_listening == 0 || Volatile.Read(ref _traces) > 0
                || Stopwatch.GetElapsedTime(Volatile.Read(ref _lastStop), now) < IdleDelay)
            {
                return false;
            }

            // A full fence between the two: a trace that starts meanwhile either sees the listening stopped and starts
            // it again itself (once this lock is free), or is seen here, and the listening goes on.
            Interlocked.Exchange(ref _listening, 0);
            if (Volatile.Read(ref _traces) > 0)
            {
                Volatile.Write(ref _listening, 1);
                return false;
            }

            stop();
            return true;
        }
    }
}
