using System.Diagnostics;
using IoTrace.Probes;

namespace IoTrace.Tracing;

/// <summary>
/// A socket that serves many requests at once (a multiplexed client's connection) and does its IO outside every
/// request's flow: its calls there are counted here, for the whole process, and a trace that used the connection reports
/// what was counted while it ran (<see cref="TraceSession.UseSharedConnection"/>), apart from its own IO.
/// </summary>
internal sealed class SharedConnection
{
    private const int Fields = 3;

    // Per probe: calls, bytes, wall ticks; cumulative, so that a trace's share is a difference. No CPU time: on Linux a
    // thread's CPU clock is a system call (0.25 us), too dear for every call of a busy connection.
    private readonly long[] _counts = new long[ProbeCatalog.Count * Fields];
    private static long s_lastId;

    private volatile bool _closed;
    private int _users;

    public SharedConnection(int fd, long generation, string? peer)
    {
        Fd = fd;
        Generation = generation;
        Peer = peer;
    }

    /// <summary>
    /// Unique in the process, apart from every trace's id (<see cref="TraceSession.Id"/>): a kernel backend counts the
    /// connection's calls under it as it counts a trace's.
    /// </summary>
    public long Id { get; } = (1L << 62) | Interlocked.Increment(ref s_lastId);

    public int Fd { get; }

    /// <summary>The fd's life this connection is (its number's closes before it was watched).</summary>
    public long Generation { get; }

    /// <summary>The server, as <see cref="PeerNames"/> writes it; null where the socket had no peer to name.</summary>
    public string? Peer { get; }

    /// <summary>Closed: its number may already be another fd's.</summary>
    public bool IsClosed => _closed;

    public void Close() => _closed = true;

    /// <summary>Whether a running trace uses the connection: its calls are counted only then, and cost nothing otherwise.</summary>
    public bool InUse => Volatile.Read(ref _users) > 0;

    /// <summary>
    /// A trace starts using the connection; the calls from now on are counted until it ends (<see cref="RemoveUser"/>).
    /// True for the first user: the backend starts counting.
    /// </summary>
    public bool AddUser() => Interlocked.Increment(ref _users) == 1;

    /// <summary>True when the last user left: the backend stops counting.</summary>
    public bool RemoveUser() => Interlocked.Decrement(ref _users) == 0;

    public void Count(int probe, long calls, long bytes, long wallTicks)
    {
        var at = probe * Fields;
        Interlocked.Add(ref _counts[at], calls);
        if (bytes > 0)
        {
            Interlocked.Add(ref _counts[at + 1], bytes);
        }

        Interlocked.Add(ref _counts[at + 2], wallTicks);
    }

    /// <summary>
    /// Everything counted so far, for the probes with calls (a connection's few: a trace keeps one such reading per
    /// connection it uses); each probe's fields may be a call apart from each other, never more.
    /// </summary>
    public Reading[] Read()
    {
        List<Reading>? read = null;
        for (var probe = 0; probe < ProbeCatalog.Count; probe++)
        {
            var at = probe * Fields;
            if (Volatile.Read(ref _counts[at]) is var calls and > 0)
            {
                (read ??= []).Add(new Reading(probe, calls, Volatile.Read(ref _counts[at + 1]), Volatile.Read(ref _counts[at + 2])));
            }
        }

        return read is null ? [] : [.. read];
    }

    /// <summary>What was counted between two readings, per probe with calls.</summary>
    public static IEnumerable<(int Probe, long Calls, long Bytes, TimeSpan Time)> Between(Reading[] before, Reading[] after)
    {
        foreach (var now in after)
        {
            var then = default(Reading);
            foreach (var earlier in before)
            {
                then = earlier.Probe == now.Probe ? earlier : then;
            }

            if (now.Calls - then.Calls > 0)
            {
                yield return (now.Probe, now.Calls - then.Calls, now.Bytes - then.Bytes, Stopwatch.GetElapsedTime(0, now.WallTicks - then.WallTicks));
            }
        }
    }

    /// <summary>One probe's counts at a reading.</summary>
    public readonly record struct Reading(int Probe, long Calls, long Bytes, long WallTicks);
}
