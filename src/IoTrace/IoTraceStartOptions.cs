namespace IoTrace;

/// <summary>
/// How a trace attributes calls to source lines.
/// </summary>
public sealed class IoTraceStartOptions
{
    /// <summary>The frame prefixes that are never the application's own code.</summary>
    public static IReadOnlyList<string> DefaultSkippedNamespaces { get; } = ["System.", "Microsoft.", "Internal.", "Interop"];

    /// <summary>
    /// Full type name prefixes whose frames are skipped when looking for the application line that made a call.
    /// Frames of the shared framework and of IoTrace itself are always skipped.
    /// Defaults to <see cref="DefaultSkippedNamespaces"/>: <c>System.</c>, <c>Microsoft.</c>, <c>Internal.</c> and <c>Interop</c>.
    /// </summary>
    public IList<string> SkippedNamespaces { get; } = [.. DefaultSkippedNamespaces];

    /// <summary>The features measured unless asked otherwise: calls, bytes and time.</summary>
    public const IoTraceFeatures DefaultFeatures = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time;

    /// <summary>
    /// What each aggregate measures. <see cref="IoTraceFeatures.Cpu"/> is opt-in: Linux reads a thread's CPU clock
    /// only through a system call, and two of them per traced call cost about 0.55 us on the reference machine,
    /// five times the rest of a Summary trace (docs/performance.md).
    /// Defaults to <see cref="DefaultFeatures"/>: calls, bytes and time.
    /// </summary>
    public IoTraceFeatures Features { get; set; } = DefaultFeatures;

    /// <summary>
    /// What reports hide, for logs that leave the machine: file paths, socket peers, or both.
    /// Defaults to <see cref="IoTraceRedaction.None"/>.
    /// </summary>
    public IoTraceRedaction Redaction { get; set; }

    /// <summary>
    /// Whether the report shows the runtime's own IO in the traced flow (an assembly loaded on first use, the GC reading
    /// /proc/meminfo), on rows of the method <c>(runtime)</c>, counted in the totals. Only a backend that sees below the
    /// runtime's own library (eBPF, dtrace) sees such IO, and tells it apart by the call's stack (under
    /// <see cref="Strategy.Summary"/>, which keeps no stacks, by the frames up to the first past libc). Defaults to
    /// <see langword="false"/>: it is not the code's own IO, and it comes and goes with what the process has already
    /// loaded.
    /// </summary>
    public bool IncludeRuntimeIo { get; set; }

    /// <summary>
    /// The directory that source file paths are printed relative to.
    /// Defaults to <see langword="null"/>: the current directory.
    /// </summary>
    public string? RootPath { get; set; }
}
