namespace IoTrace.Core;

/// <summary>A source location that made IO calls. Instances are interned, so reference equality is identity.</summary>
internal sealed class SourceLocation(string? file, int? line, string? method, bool isApplication)
{
    /// <summary>Used when no application frame is on the stack and the flow has none to inherit.</summary>
    public static readonly SourceLocation Unknown = new(null, null, null, isApplication: false);

    /// <summary>The absolute source path from the PDB, or <see langword="null"/> without one.</summary>
    public string? File { get; } = file;

    public int? Line { get; } = line;

    public string? Method { get; } = method;

    /// <summary>Whether this is a frame of the application's own code (not the runtime's, not IoTrace's).</summary>
    public bool IsApplication { get; } = isApplication;
}
