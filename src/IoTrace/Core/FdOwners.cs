namespace IoTrace.Core;

/// <summary>
/// Which trace waits on a non-blocking fd. A socket read that returned EAGAIN inside a trace is retried
/// later by the runtime on a thread without the trace's context; the retry is charged to the waiting trace.
/// </summary>
internal static class FdOwners
{
    private const int MaxFd = 1 << 20;
    private static readonly Lock s_growLock = new();
    private static Owner?[] s_owners = new Owner?[1024];

    public static void Set(int fd, TraceSession session, SourceLocation site)
    {
        if ((uint)fd >= MaxFd)
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
            Volatile.Write(ref owners[fd], new Owner(session, site));
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

    public static void Clear(int fd)
    {
        var owners = s_owners;
        if ((uint)fd < (uint)owners.Length && Volatile.Read(ref owners[fd]) is not null)
        {
            Volatile.Write(ref owners[fd], null);
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
