namespace IoTrace.Probes;

/// <summary>
/// What a probe's calls mean for the fds they touch, declared once in the catalog (<see cref="ProbeCatalog"/>): every
/// backend reads them from there, and the core's fd lives follow them.
/// </summary>
[Flags]
internal enum ProbeTraits
{
    None = 0,

    /// <summary>A successful call starts a new life of the fd it returns (open, socket, accept): its target, the line that opened it.</summary>
    OpensFd = 1,

    /// <summary>The call names the fd it is given (connect: the peer), which the calls made on it before report too.</summary>
    NamesFd = 2,

    /// <summary>The call ends its fd's life: the number may stand for another file or socket right after.</summary>
    ClosesFd = 4,

    /// <summary>The call names a path of its own (open, stat): the row's target.</summary>
    TakesPath = 8,

    /// <summary>The call's result counts the bytes it moved (read, write, send, receive).</summary>
    MovesBytes = 16,

    /// <summary>
    /// A library call, not a system call: what it does in the kernel cannot be seen one call at a time where it is
    /// counted (name resolution inside libc, in process), so the call itself stands for it.
    /// </summary>
    LibraryCall = 32,

    /// <summary>The call's target is a host name it resolves: a peer, for redaction.</summary>
    NamesHost = 64,

    /// <summary>
    /// The call is counted, not timed (a client's activity, which IoTrace does not make, so it never stops): its rows
    /// show calls only, never a time of 0.
    /// </summary>
    Untimed = 128,
}
