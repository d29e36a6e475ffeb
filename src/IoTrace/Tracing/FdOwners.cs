using IoTrace.Attribution;

namespace IoTrace.Tracing;

/// <summary>
/// Which trace waits on a non-blocking fd. A socket read that returned EAGAIN inside a trace is retried
/// later by the runtime on a thread without the trace's context; the retry is charged to the waiting trace.
/// </summary>
internal static class FdOwners
{
    /// <summary>Fds from this number up have no owner and no close count.</summary>
    public const int MaxFd = 1 << 20;

    private static readonly Lock s_growLock = new();
    private static Owner?[] s_owners = new Owner?[1024];

    // Closes seen per fd number. A call returns EAGAIN, another thread closes the fd, and only then does the hook
    // record the EAGAIN: without this, that dead fd would keep its owner, and whatever reuses the number next (another
    // request's file, Kestrel's socket) would be charged to the trace.
    private static int[] s_closes = new int[1024];

    /// <summary>The fd's close count, read before the call whose EAGAIN may make a trace its owner.</summary>
    public static int Closes(int fd)
    {
        var closes = s_closes;
        return (uint)fd < (uint)closes.Length ? Volatile.Read(ref closes[fd]) : 0;
    }

    /// <summary>
    /// Makes <paramref name="session"/> the owner of <paramref name="fd"/>, unless the fd was closed since
    /// <paramref name="closesBefore"/> (<see cref="Closes"/> before the call) was read.
    /// </summary>
    public static void Set(int fd, TraceSession session, SourceLocation site, int closesBefore)
    {
        if ((uint)fd >= MaxFd || Closes(fd) != closesBefore)
        {
            return;
        }

        var owners = s_owners;
        if (fd >= owners.Length)
        {
            owners = Grow(fd);
        }

        var current = Volatile.Read(ref owners[fd]);
        if (current is null || current.Session != session || current.Site != site)
        {
            var owner = new Owner(session, site);
            Volatile.Write(ref owners[fd], owner);

            // Closed meanwhile (Clear counts the close before it clears the owner): take it back.
            if (Closes(fd) != closesBefore)
            {
                Interlocked.CompareExchange(ref owners[fd], null, owner);
                return;
            }

            session.RememberOwnedFd(fd);
        }
    }

    /// <summary>Clears the fds an ending trace owns, so the table does not keep ended traces alive.</summary>
    public static void Release(TraceSession session, IEnumerable<int> fds)
    {
        var owners = s_owners;
        foreach (var fd in fds)
        {
            if ((uint)fd < (uint)owners.Length && Volatile.Read(ref owners[fd]) is { } owner && owner.Session == session)
            {
                Interlocked.CompareExchange(ref owners[fd], null, owner);
            }
        }
    }

    /// <summary>Slots holding an owner, ended traces included (for tests of the idle size).</summary>
    internal static int OccupiedSlots => s_owners.Count(o => o is not null);

    /// <summary>The active trace waiting on <paramref name="fd"/>, if any; forgets ended ones.</summary>
    public static Owner? Get(int fd)
    {
        var owners = s_owners;
        if ((uint)fd >= (uint)owners.Length)
        {
            return null;
        }

        var owner = Volatile.Read(ref owners[fd]);
        if (owner is not null && !owner.Session.IsActive)
        {
            Interlocked.CompareExchange(ref owners[fd], null, owner);
            return null;
        }

        return owner;
    }

    /// <summary>
    /// The retry <paramref name="owner"/> waited for was made: the wait is over, and the fd's later calls outside any
    /// trace are no one's (an HTTP/2 connection's loops read and write for every request on it). A newer owner stays.
    /// </summary>
    public static void Consume(int fd, Owner owner)
    {
        var owners = s_owners;
        if ((uint)fd < (uint)owners.Length)
        {
            Interlocked.CompareExchange(ref owners[fd], null, owner);
        }
    }

    /// <summary>The fd was closed: counts the close, then forgets its owner.</summary>
    public static void Clear(int fd)
    {
        if ((uint)fd >= MaxFd)
        {
            return;
        }

        CountClose(fd);
        var owners = s_owners;
        if (fd < owners.Length && Volatile.Read(ref owners[fd]) is not null)
        {
            Volatile.Write(ref owners[fd], null);
        }
    }

    private static void CountClose(int fd)
    {
        // A count made on an array that a concurrent growth just replaced is made again on the new one: counts only
        // need to change at each close, not to be exact.
        while (true)
        {
            var closes = s_closes;
            if (fd >= closes.Length)
            {
                closes = GrowCloses(fd);
            }

            Interlocked.Increment(ref closes[fd]);
            if (ReferenceEquals(closes, Volatile.Read(ref s_closes)))
            {
                return;
            }
        }
    }

    private static int[] GrowCloses(int fd)
    {
        lock (s_growLock)
        {
            var closes = s_closes;
            if (fd < closes.Length)
            {
                return closes;
            }

            var grown = new int[Math.Min(MaxFd, Math.Max(fd + 1, closes.Length * 2))];
            Array.Copy(closes, grown, closes.Length);
            Volatile.Write(ref s_closes, grown);
            return grown;
        }
    }

    /// <summary>How many fds have an owner (ended traces included until they are looked up or cleared).</summary>
    public static int Count
    {
        get
        {
            var count = 0;
            foreach (var owner in s_owners)
            {
                if (owner is not null && owner.Session.IsActive)
                {
                    count++;
                }
            }

            return count;
        }
    }

    private static Owner?[] Grow(int fd)
    {
        lock (s_growLock)
        {
            var owners = s_owners;
            if (fd < owners.Length)
            {
                return owners;
            }

            var grown = new Owner?[Math.Min(MaxFd, Math.Max(fd + 1, owners.Length * 2))];
            Array.Copy(owners, grown, owners.Length);
            s_owners = grown;
            return grown;
        }
    }

    internal sealed record Owner(TraceSession Session, SourceLocation Site);
}
