namespace IoTrace;

/// <summary>What an aggregate's target is: a file, a socket, or something else (a pipe, an event fd) or unknown.</summary>
public enum IoTargetKind
{
    /// <summary>No target, or one that is neither a file nor a socket (<c>pipe:[123]</c>, <c>anon_inode:[eventfd]</c>).</summary>
    Other = 0,

    /// <summary>A path in the file system (a file, a directory, a device).</summary>
    File = 1,

    /// <summary>A socket: a TCP or UDP peer (<c>127.0.0.1:5432</c>), a Unix socket (<c>unix:/run/app.sock</c>), or one not connected.</summary>
    Socket = 2,
}
