namespace IoTrace.Tracing;

/// <summary>
/// Until disposed, work started on this thread (a task, a thread, a timer) does not carry the caller's
/// ExecutionContext: the tracer's own threads and waits are no request's, and never keep one alive.
/// </summary>
internal readonly struct SuppressedFlow : IDisposable
{
    private readonly AsyncFlowControl? _control;

    private SuppressedFlow(AsyncFlowControl? control) => _control = control;

    public static SuppressedFlow Begin() => new(ExecutionContext.IsFlowSuppressed() ? null : ExecutionContext.SuppressFlow());

    public void Dispose() => _control?.Undo();
}
