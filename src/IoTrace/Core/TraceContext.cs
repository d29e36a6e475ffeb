namespace IoTrace.Core;

/// <summary>The trace that the current async flow belongs to, and the last application line it ran.</summary>
internal static class TraceContext
{
    private static readonly AsyncLocal<TraceSession?> s_current = new();
    private static readonly AsyncLocal<SourceLocation?> s_lastCallSite = new();

    // Separate from s_current, so only traces a kernel backend records pay for change notifications.
    private static readonly AsyncLocal<TraceSession?> s_kernelTrace = new(static args => KernelTraceChanged?.Invoke(args.CurrentValue));

    /// <summary>
    /// Told the flow's kernel-recorded trace every time it changes on the current thread (set, or an async hop
    /// that switches contexts), so a kernel backend can publish it where its probes read it.
    /// </summary>
    public static Action<TraceSession?>? KernelTraceChanged { get; set; }

    /// <summary>The current flow's trace, when a kernel backend records it.</summary>
    public static TraceSession? KernelTrace
    {
        get => s_kernelTrace.Value;
        set => s_kernelTrace.Value = value;
    }

    /// <summary>
    /// Hides the current thread from the kernel backend until disposed: the tracer's own IO on a traced thread (PDB
    /// reads while resolving a line) is then not charged to the flow's trace. The in-process hooks skip it through
    /// <see cref="TracerThread"/>; the kernel only knows the thread's published trace. Synchronous work only.
    /// </summary>
    public static KernelHiddenScope HideFromKernel()
    {
        var changed = KernelTraceChanged;
        if (changed is null || s_kernelTrace.Value is null)
        {
            return default;
        }

        changed(null);
        return new KernelHiddenScope(changed);
    }

    public static TraceSession? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    /// <summary>
    /// The last application call site seen in this flow. An async framework method that continues on a
    /// thread-pool thread has no application frame on its stack; it inherits the line that called it.
    /// </summary>
    public static SourceLocation? LastCallSite
    {
        get => s_lastCallSite.Value;
        set => s_lastCallSite.Value = value;
    }

    internal readonly struct KernelHiddenScope(Action<TraceSession?>? changed) : IDisposable
    {
        // Publishes the flow's trace again: the thread is still in the same flow (the hidden work never awaits).
        public void Dispose() => changed?.Invoke(s_kernelTrace.Value);
    }
}
