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
}
