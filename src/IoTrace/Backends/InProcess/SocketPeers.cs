using System.Collections.Concurrent;

namespace IoTrace.Backends.InProcess;

/// <summary>
/// The peers of the process's stream sockets, by fd and the fd's life (<see cref="Tracing.FdOwners.Closes"/>): a
/// pooled connection is named once, not with a <c>getpeername</c> in every trace that uses it.
/// </summary>
/// <remarks>
/// A life's number is only as good as the closes the hooks saw, and they see none while no trace runs: every entry
/// belongs to an epoch, which ends when the last trace stops or the hooks are removed. Only stream sockets are kept:
/// their peer is fixed from their connect to their close, while a datagram socket's changes with each connect.
/// </remarks>
internal sealed class SocketPeers
{
    private readonly ConcurrentDictionary<int, Entry> _entries = new();
    private int _epoch;
    private int _remembered;

    /// <summary>The current epoch: read before the socket is asked, passed to <see cref="Remember"/>.</summary>
    public int Epoch => Volatile.Read(ref _epoch);

    /// <summary>How many peers were remembered (tests).</summary>
    internal int Remembered => Volatile.Read(ref _remembered);

    /// <summary>The peer of the socket at <paramref name="fd"/> in that life, if known in this epoch.</summary>
    public string? Find(int fd, long generation) =>
        _entries.TryGetValue(fd, out var entry) && entry.Generation == generation && entry.Epoch == Epoch ? entry.Peer : null;

    /// <summary>Remembers a stream socket's peer, asked during <paramref name="epoch"/>; ignored if that epoch has ended since.</summary>
    public void Remember(int fd, long generation, int epoch, string peer)
    {
        if (epoch == Epoch)
        {
            _entries[fd] = new Entry(generation, epoch, peer);
            Interlocked.Increment(ref _remembered);
        }
    }

    /// <summary>Ends the epoch: closes may go unseen from now on.</summary>
    public void Forget()
    {
        Interlocked.Increment(ref _epoch);
        _entries.Clear();
    }

    private sealed record Entry(long Generation, int Epoch, string Peer);
}
