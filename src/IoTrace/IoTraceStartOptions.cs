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

    /// <summary>
    /// What each aggregate measures. Leaving out <see cref="IoTraceFeatures.Cpu"/> saves two system calls per traced call.
    /// Defaults to <see cref="IoTraceFeatures.All"/>.
    /// </summary>
    public IoTraceFeatures Features { get; set; } = IoTraceFeatures.All;

    /// <summary>
    /// The directory that source file paths are printed relative to.
    /// Defaults to <see langword="null"/>: the current directory.
    /// </summary>
    public string? RootPath { get; set; }
}
