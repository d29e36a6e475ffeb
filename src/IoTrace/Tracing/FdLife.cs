using IoTrace.Attribution;

namespace IoTrace.Tracing;

/// <summary>
/// One life of an fd in a trace, from the call that opened it (or the first call seen on it) to its close: what it is
/// (a path, a peer), which a connect may name after the first calls, and the application line that opened it, which
/// the calls on it without a line of their own take. A trace keeps its lives by fd number and generation.
/// </summary>
internal sealed class FdLife
{
    // Several lines used the fd: none of them stands for the others.
    private static readonly SourceLocation s_severalLines = new(null, null, null, isApplication: false);

    private volatile string? _target;
    private volatile SourceLocation? _openedAt;
    private SourceLocation? _usedAt;
    private volatile bool _ended;

    public string? Target
    {
        get => _target;
        set => _target = value;
    }

    /// <summary>
    /// Whether a close ended this life: its number may stand for another file or socket now, so what the fd is now
    /// (<c>/proc/self/fd</c>) says nothing of it.
    /// </summary>
    public bool Ended
    {
        get => _ended;
        set => _ended = value;
    }

    /// <summary>The application line that opened the fd; null when none did (opened before the trace, or on the thread pool).</summary>
    public SourceLocation? OpenedAt
    {
        get => _openedAt;
        set => _openedAt = value;
    }

    /// <summary>
    /// The one application line that made calls on this life, if only one did: a call on it without a line of its own
    /// (a read the runtime retried on its thread, seen by a kernel backend) was most likely made for that line.
    /// </summary>
    public SourceLocation? OnlyLineUsed => _usedAt is { } used && !ReferenceEquals(used, s_severalLines) ? used : null;

    /// <summary>Notes an application line that made a call on this life.</summary>
    public void UsedBy(SourceLocation line)
    {
        var used = Volatile.Read(ref _usedAt);
        if (ReferenceEquals(used, line) || ReferenceEquals(used, s_severalLines))
        {
            return;
        }

        if (used is not null || Interlocked.CompareExchange(ref _usedAt, line, null) is { } raced && !ReferenceEquals(raced, line))
        {
            Volatile.Write(ref _usedAt, s_severalLines);
        }
    }
}
