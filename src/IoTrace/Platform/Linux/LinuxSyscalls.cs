namespace IoTrace.Platform.Linux;

/// <summary>
/// The x86_64 system calls a kernel-side backend counts: the kernel's name and number, the probe each stands for
/// (<see cref="Probes.ProbeCatalog"/>), where its fd is and which argument is its path. The eBPF program packs them
/// into its configuration map, the dtrace script into its arrays.
/// </summary>
internal static class LinuxSyscalls
{
    public static IReadOnlyList<LinuxSyscall> X64 { get; } =
    [
        new(0, "read", "read", SyscallFd.Arg0, SyscallPath.None),
        new(17, "pread64", "pread64", SyscallFd.Arg0, SyscallPath.None),
        new(19, "readv", "readv", SyscallFd.Arg0, SyscallPath.None),
        new(295, "preadv", "preadv", SyscallFd.Arg0, SyscallPath.None),
        new(327, "preadv2", "preadv2", SyscallFd.Arg0, SyscallPath.None),
        new(45, "recvfrom", "recvfrom", SyscallFd.Arg0, SyscallPath.None),
        new(47, "recvmsg", "recvmsg", SyscallFd.Arg0, SyscallPath.None),
        new(1, "write", "write", SyscallFd.Arg0, SyscallPath.None),
        new(18, "pwrite64", "pwrite64", SyscallFd.Arg0, SyscallPath.None),
        new(20, "writev", "writev", SyscallFd.Arg0, SyscallPath.None),
        new(296, "pwritev", "pwritev", SyscallFd.Arg0, SyscallPath.None),
        new(328, "pwritev2", "pwritev2", SyscallFd.Arg0, SyscallPath.None),
        new(44, "sendto", "sendto", SyscallFd.Arg0, SyscallPath.None),
        new(46, "sendmsg", "sendmsg", SyscallFd.Arg0, SyscallPath.None),
        new(40, "sendfile", "sendfile", SyscallFd.Arg0, SyscallPath.None),
        new(326, "copy_file_range", "copy_file_range", SyscallFd.Arg0, SyscallPath.None),
        new(275, "splice", "splice", SyscallFd.Arg0, SyscallPath.None),
        new(217, "getdents64", "getdents64", SyscallFd.Arg0, SyscallPath.None),
        new(257, "openat", "openat", SyscallFd.Result, SyscallPath.Arg1),
        new(2, "open", "open", SyscallFd.Result, SyscallPath.Arg0),
        new(3, "close", "close", SyscallFd.Arg0, SyscallPath.None),
        new(262, "newfstatat", "newfstatat", SyscallFd.None, SyscallPath.Arg1),
        new(4, "stat", "stat", SyscallFd.None, SyscallPath.Arg0),
        new(6, "lstat", "lstat", SyscallFd.None, SyscallPath.Arg0),
        new(5, "fstat", "fstat", SyscallFd.Arg0, SyscallPath.None),
        new(332, "statx", "statx", SyscallFd.None, SyscallPath.Arg1),
        new(42, "connect", "connect", SyscallFd.Arg0, SyscallPath.None),
        new(43, "accept", "accept", SyscallFd.Result, SyscallPath.None),
        new(288, "accept4", "accept4", SyscallFd.Result, SyscallPath.None),
        new(49, "bind", "bind", SyscallFd.Arg0, SyscallPath.None),
        new(41, "socket", "socket", SyscallFd.Result, SyscallPath.None),
        new(53, "socketpair", "socketpair", SyscallFd.None, SyscallPath.None),
        new(48, "shutdown", "shutdown", SyscallFd.Arg0, SyscallPath.None),
        new(52, "getpeername", "getpeername", SyscallFd.Arg0, SyscallPath.None),
        new(72, "fcntl", "fcntl", SyscallFd.Arg0, SyscallPath.None),
        new(74, "fsync", "fsync", SyscallFd.Arg0, SyscallPath.None),
        new(75, "fdatasync", "fdatasync", SyscallFd.Arg0, SyscallPath.None),
        new(7, "poll", "poll", SyscallFd.None, SyscallPath.None),
        new(271, "ppoll", "poll", SyscallFd.None, SyscallPath.None),
        new(23, "select", "select", SyscallFd.None, SyscallPath.None),
        new(270, "pselect6", "select", SyscallFd.None, SyscallPath.None),
        new(50, "listen", "listen", SyscallFd.Arg0, SyscallPath.None),
        new(51, "getsockname", "getsockname", SyscallFd.Arg0, SyscallPath.None),
        new(54, "setsockopt", "setsockopt", SyscallFd.Arg0, SyscallPath.None),
        new(55, "getsockopt", "getsockopt", SyscallFd.Arg0, SyscallPath.None),
        new(16, "ioctl", "ioctl", SyscallFd.Arg0, SyscallPath.None),
        new(8, "lseek", "lseek", SyscallFd.Arg0, SyscallPath.None),
        new(77, "ftruncate", "ftruncate", SyscallFd.Arg0, SyscallPath.None),
        new(285, "fallocate", "fallocate", SyscallFd.Arg0, SyscallPath.None),
        new(221, "fadvise64", "fadvise64", SyscallFd.Arg0, SyscallPath.None),
        new(73, "flock", "flock", SyscallFd.Arg0, SyscallPath.None),
        new(91, "fchmod", "fchmod", SyscallFd.Arg0, SyscallPath.None),
        new(138, "fstatfs", "fstatfs", SyscallFd.Arg0, SyscallPath.None),
        new(137, "statfs", "statfs", SyscallFd.None, SyscallPath.Arg0),
        new(21, "access", "access", SyscallFd.None, SyscallPath.Arg0),
        new(269, "faccessat", "faccessat", SyscallFd.None, SyscallPath.Arg1),
        new(439, "faccessat2", "faccessat2", SyscallFd.None, SyscallPath.Arg1),
        new(90, "chmod", "chmod", SyscallFd.None, SyscallPath.Arg0),
        new(268, "fchmodat", "fchmodat", SyscallFd.None, SyscallPath.Arg1),
        new(280, "utimensat", "utimensat", SyscallFd.None, SyscallPath.Arg1),
        new(83, "mkdir", "mkdir", SyscallFd.None, SyscallPath.Arg0),
        new(258, "mkdirat", "mkdirat", SyscallFd.None, SyscallPath.Arg1),
        new(84, "rmdir", "rmdir", SyscallFd.None, SyscallPath.Arg0),
        new(87, "unlink", "unlink", SyscallFd.None, SyscallPath.Arg0),
        new(263, "unlinkat", "unlinkat", SyscallFd.None, SyscallPath.Arg1),
        new(82, "rename", "rename", SyscallFd.None, SyscallPath.Arg0),
        new(264, "renameat", "renameat", SyscallFd.None, SyscallPath.Arg1),
        new(316, "renameat2", "renameat2", SyscallFd.None, SyscallPath.Arg1),
        new(86, "link", "link", SyscallFd.None, SyscallPath.Arg1),
        new(88, "symlink", "symlink", SyscallFd.None, SyscallPath.Arg1),
        // The path these create is their fourth or third argument, beyond what the backends read: no target.
        new(265, "linkat", "linkat", SyscallFd.None, SyscallPath.None),
        new(266, "symlinkat", "symlinkat", SyscallFd.None, SyscallPath.None),
        new(89, "readlink", "readlink", SyscallFd.None, SyscallPath.Arg0),
        new(267, "readlinkat", "readlinkat", SyscallFd.None, SyscallPath.Arg1),
    ];
}

/// <summary>
/// One system call: its x86_64 <paramref name="Number"/>, <paramref name="Name"/> as strace names it and
/// <paramref name="Probe"/> the catalog's.
/// </summary>
internal readonly record struct LinuxSyscall(int Number, string Name, string Probe, SyscallFd Fd, SyscallPath Path)
{
    private static readonly HashSet<string> s_socketOnly =
        ["recvfrom", "recvmsg", "sendto", "sendmsg", "connect", "accept", "accept4", "bind", "listen", "socket", "socketpair", "shutdown", "getpeername", "getsockname", "setsockopt", "getsockopt"];

    /// <summary>
    /// Made on sockets only, so never the runtime's own IO (its collector's reads, its loader's): a trace without
    /// context looks for the runtime among the callers of the other calls alone.
    /// </summary>
    public bool IsSocketOnly => s_socketOnly.Contains(Name);
}

/// <summary>Where a system call's fd is.</summary>
internal enum SyscallFd
{
    /// <summary>It takes none (a path, a set of fds).</summary>
    None,

    /// <summary>The first argument.</summary>
    Arg0,

    /// <summary>The value it returns (an opener's).</summary>
    Result,
}

/// <summary>Which argument is a system call's path.</summary>
internal enum SyscallPath
{
    None,
    Arg0,
    Arg1,
}
