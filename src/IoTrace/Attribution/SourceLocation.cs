namespace IoTrace.Attribution;

/// <summary>A source location that made IO calls. Instances are interned, so reference equality is identity.</summary>
internal sealed class SourceLocation(string? file, int? line, string? method, bool isApplication)
{
    /// <summary>Used when no application frame is on the stack and the flow has none to inherit.</summary>
    public static readonly SourceLocation Unknown = new(null, null, null, isApplication: false);

    /// <summary>
    /// No line yet: the backend's stack walk stopped in native code it is still learning to step through. Unlike a call
    /// with no application frame at all, such a call does not take the line that opened its fd: it was made further
    /// down a stack that has an application frame of its own (SQLite's page reads would land on the connection's Open()).
    /// </summary>
    public static readonly SourceLocation StackIncomplete = new(null, null, null, isApplication: false);

    /// <summary>
    /// The runtime's own IO in a traced flow (an assembly load, the GC reading /proc/meminfo), as a backend that sees
    /// below the runtime's own library tells it: not the app's, so a trace leaves it out unless asked to show it
    /// (<see cref="IoTraceStartOptions.IncludeRuntimeIo"/>), on a row of its own.
    /// </summary>
    public static readonly SourceLocation Runtime = new(null, null, "(runtime)", isApplication: false);

    /// <summary>
    /// A multiplexed connection's own IO (an HTTP/2 connection's frame reading and writing loops): it serves every
    /// request on the connection, and its flow is that of whichever request opened the connection. Never charged to a
    /// trace; the requests show as <c>http</c> rows from HttpClient's events instead.
    /// </summary>
    public static readonly SourceLocation SharedConnection = new(null, null, "(shared connection)", isApplication: false);

    /// <summary>
    /// A call Dns made resolving a name on the thread pool (an asynchronous resolution: getaddrinfo, glibc reading
    /// /etc/hosts): Dns's frames and none of the app's on its stack. It takes the line that started the trace's
    /// resolutions (<see cref="NameResolutionCallSites"/>) when one line did; else it has none, as <see cref="Unknown"/>.
    /// </summary>
    public static readonly SourceLocation NameResolution = new(null, null, null, isApplication: false);

    /// <summary>The absolute source path from the PDB, or <see langword="null"/> without one.</summary>
    public string? File { get; } = file;

    public int? Line { get; } = line;

    public string? Method { get; } = method;

    /// <summary>Whether this is a frame of the application's own code (not the runtime's, not IoTrace's).</summary>
    public bool IsApplication { get; } = isApplication;

    /// <summary>
    /// Whether <paramref name="other"/> names the same line: instances are interned per resolver, so two traces' resolvers
    /// may each have one for it.
    /// </summary>
    public bool IsSameLine(SourceLocation other) =>
        ReferenceEquals(this, other) || (File == other.File && Line == other.Line && Method == other.Method);

    // The last root asked for and the file relative to it: a request's report names the same lines every time.
    private RelativeFile? _relative;

    /// <summary><see cref="File"/> relative to <paramref name="root"/> (a full path) when it is under it, else as it is.</summary>
    public string? FileRelativeTo(string root)
    {
        if (File is not { } file)
        {
            return null;
        }

        if (_relative is { } cached && ReferenceEquals(cached.Root, root))
        {
            return cached.File;
        }

        var relative = file.Length > root.Length + 1 && file[root.Length] == Path.DirectorySeparatorChar && file.StartsWith(root, StringComparison.Ordinal)
            ? file[(root.Length + 1)..]
            : file;
        _relative = new RelativeFile(root, relative);
        return relative;
    }

    private sealed record RelativeFile(string Root, string File);
}
