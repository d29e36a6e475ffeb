using IoTrace.Attribution;

namespace IoTrace.Tracing;

/// <summary>
/// One life of an fd in a trace, from the call that opened it (or the first call seen on it) to its close: what it is
/// (a path, a peer), which a connect may name after the first calls, and the application line that opened it, which
/// the calls on it without a line of their own take. A trace keeps its lives by fd number and generation.
/// </summary>
internal sealed class FdLife
{
    private volatile string? _target;
    private volatile SourceLocation? _openedAt;
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
}
