namespace IoTrace;

/// <summary>
/// Which IO calls a trace records and how much context it keeps, as in the io-trace gem.
/// </summary>
public enum Strategy
{
    /// <summary>Every probe, aggregated by probe only: no file, line or fd context and no stack capture. The cheapest.</summary>
    Summary = 0,

    /// <summary>Setup calls: open, close, the stat family, connect, accept, bind, socket, shutdown, getpeername, fcntl, fsync, poll.</summary>
    Setup = 1,

    /// <summary>Read calls: read, pread64, readv, preadv, recvfrom, recvmsg.</summary>
    Read = 2,

    /// <summary>Write calls: write, pwrite64, writev, pwritev, sendto, sendmsg, sendfile.</summary>
    Write = 3,

    /// <summary>Setup, Read and Write together, with full file, line and fd context.</summary>
    All = 4,
}
