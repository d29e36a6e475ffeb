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

    public string? Target
    {
        get => _target;
        set => _target = value;
    }

    /// <summary>The application line that opened the fd; null when none did (opened before the trace, or on the thread pool).</summary>
    public SourceLocation? OpenedAt
    {
        get => _openedAt;
        set => _openedAt = value;
    }
}
