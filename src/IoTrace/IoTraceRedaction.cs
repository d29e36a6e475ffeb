namespace IoTrace;

/// <summary>
/// What a report hides, for logs that leave the machine. Hidden values become a pseudonym (<c>file#3f2a91c0</c>,
/// <c>peer#8d01b7e4</c>) that is stable within the process, so rows stay distinguishable, and random across processes.
/// </summary>
[Flags]
public enum IoTraceRedaction
{
    /// <summary>Nothing is hidden.</summary>
    None = 0,

    /// <summary>
    /// Paths of files behind fds and named by open and stat calls; source files outside the root path print as
    /// their file name only.
    /// </summary>
    FilePaths = 1,

    /// <summary>Socket peers: IP addresses with their ports, and Unix socket paths.</summary>
    PeerAddresses = 2,

    /// <summary>File paths and peer addresses.</summary>
    All = FilePaths | PeerAddresses,
}
