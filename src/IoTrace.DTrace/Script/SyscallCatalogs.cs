using IoTrace.Platform.Linux;

namespace IoTrace.DTrace.Script;

/// <summary>
/// Each platform's IO system calls, by the names its <c>syscall</c> provider gives them, each with the Linux probe
/// it counts as: what .NET's native shims, glibc's or libc's stdio and directory functions, and the common native
/// libraries call for files and sockets. The epoll and kqueue machinery of the runtime's socket engine is left out,
/// as on Linux.
/// </summary>
internal static class SyscallCatalogs
{
    private const SyscallFd NoFd = SyscallFd.None;
    private const SyscallFd OnFd = SyscallFd.Arg0;
    private const SyscallFd Returns = SyscallFd.Result;
    private const SyscallPath NoPath = SyscallPath.None;
    private const SyscallPath Path0 = SyscallPath.Arg0;
    private const SyscallPath Path1 = SyscallPath.Arg1;

    /// <summary>
    /// Linux x86_64: the kernel-side backends' own table, under strace's names; DTrace for Linux's provider names a few
    /// by the kernel's functions.
    /// </summary>
    public static IReadOnlyList<PlatformSyscall> Linux { get; } =
        [.. LinuxSyscalls.X64.Select(static c => new PlatformSyscall(c.Name, c.Probe, c.Fd, c.Path) { ProviderName = LinuxProviderName(c.Name) })];

    private static string LinuxProviderName(string name) => name switch
    {
        "stat" or "lstat" or "fstat" => "new" + name,
        "sendfile" => "sendfile64",
        _ => name,
    };

    /// <summary>
    /// macOS (xnu's syscalls.master): libSystem.Native.dylib calls the <c>_nocancel</c> variants of the calls that
    /// are cancellation points, and the 64-bit inode variants of stat and getdirentries; code that calls libc's
    /// plain functions (native libraries) makes the plain calls.
    /// </summary>
    public static IReadOnlyList<PlatformSyscall> MacOS { get; } =
    [
        new("read", "read", OnFd, NoPath),
        new("read_nocancel", "read", OnFd, NoPath),
        new("pread", "pread64", OnFd, NoPath),
        new("pread_nocancel", "pread64", OnFd, NoPath),
        new("readv", "readv", OnFd, NoPath),
        new("readv_nocancel", "readv", OnFd, NoPath),
        new("preadv", "preadv", OnFd, NoPath),
        new("preadv_nocancel", "preadv", OnFd, NoPath),
        new("recvfrom", "recvfrom", OnFd, NoPath),
        new("recvfrom_nocancel", "recvfrom", OnFd, NoPath),
        new("recvmsg", "recvmsg", OnFd, NoPath),
        new("recvmsg_nocancel", "recvmsg", OnFd, NoPath),
        new("getdirentries64", "getdents64", OnFd, NoPath),
        new("write", "write", OnFd, NoPath),
        new("write_nocancel", "write", OnFd, NoPath),
        new("pwrite", "pwrite64", OnFd, NoPath),
        new("pwrite_nocancel", "pwrite64", OnFd, NoPath),
        new("writev", "writev", OnFd, NoPath),
        new("writev_nocancel", "writev", OnFd, NoPath),
        new("pwritev", "pwritev", OnFd, NoPath),
        new("pwritev_nocancel", "pwritev", OnFd, NoPath),
        new("sendto", "sendto", OnFd, NoPath),
        new("sendto_nocancel", "sendto", OnFd, NoPath),
        new("sendmsg", "sendmsg", OnFd, NoPath),
        new("sendmsg_nocancel", "sendmsg", OnFd, NoPath),
        new("sendfile", "sendfile", OnFd, NoPath),
        new("open", "open", Returns, Path0),
        new("open_nocancel", "open", Returns, Path0),
        new("openat", "openat", Returns, Path1),
        new("openat_nocancel", "openat", Returns, Path1),
        new("close", "close", OnFd, NoPath),
        new("close_nocancel", "close", OnFd, NoPath),
        new("stat64", "stat", NoFd, Path0),
        new("lstat64", "lstat", NoFd, Path0),
        new("fstat64", "fstat", OnFd, NoPath),
        new("fstatat64", "newfstatat", NoFd, Path1),
        new("connect", "connect", OnFd, NoPath),
        new("connect_nocancel", "connect", OnFd, NoPath),
        new("accept", "accept", Returns, NoPath),
        new("accept_nocancel", "accept", Returns, NoPath),
        new("bind", "bind", OnFd, NoPath),
        new("socket", "socket", Returns, NoPath),
        new("socketpair", "socketpair", NoFd, NoPath),
        new("shutdown", "shutdown", OnFd, NoPath),
        new("getpeername", "getpeername", OnFd, NoPath),
        new("getsockname", "getsockname", OnFd, NoPath),
        new("listen", "listen", OnFd, NoPath),
        new("setsockopt", "setsockopt", OnFd, NoPath),
        new("getsockopt", "getsockopt", OnFd, NoPath),
        new("fcntl", "fcntl", OnFd, NoPath),
        new("fcntl_nocancel", "fcntl", OnFd, NoPath),
        new("ioctl", "ioctl", OnFd, NoPath),
        new("fsync", "fsync", OnFd, NoPath),
        new("fsync_nocancel", "fsync", OnFd, NoPath),
        new("fdatasync", "fdatasync", OnFd, NoPath),
        new("poll", "poll", NoFd, NoPath),
        new("poll_nocancel", "poll", NoFd, NoPath),
        new("select", "select", NoFd, NoPath),
        new("select_nocancel", "select", NoFd, NoPath),
        new("lseek", "lseek", OnFd, NoPath),
        new("ftruncate", "ftruncate", OnFd, NoPath),
        new("flock", "flock", OnFd, NoPath),
        new("fchmod", "fchmod", OnFd, NoPath),
        new("fstatfs64", "fstatfs", OnFd, NoPath),
        new("statfs64", "statfs", NoFd, Path0),
        new("access", "access", NoFd, Path0),
        new("faccessat", "faccessat", NoFd, Path1),
        new("chmod", "chmod", NoFd, Path0),
        new("fchmodat", "fchmodat", NoFd, Path1),
        new("utimes", "utimensat", NoFd, Path0),
        new("futimes", "utimensat", OnFd, NoPath),
        new("mkdir", "mkdir", NoFd, Path0),
        new("mkdirat", "mkdirat", NoFd, Path1),
        new("rmdir", "rmdir", NoFd, Path0),
        new("unlink", "unlink", NoFd, Path0),
        new("unlinkat", "unlinkat", NoFd, Path1),
        new("rename", "rename", NoFd, Path0),
        new("renameat", "renameat", NoFd, Path1),
        new("link", "link", NoFd, Path1),
        new("symlink", "symlink", NoFd, Path1),
        new("readlink", "readlink", NoFd, Path0),
        new("readlinkat", "readlinkat", NoFd, Path1),
    ];

    /// <summary>FreeBSD (sys/kern/syscalls.master): libc's open, stat and access are its *at calls.</summary>
    public static IReadOnlyList<PlatformSyscall> FreeBsd { get; } =
    [
        new("read", "read", OnFd, NoPath),
        new("pread", "pread64", OnFd, NoPath),
        new("readv", "readv", OnFd, NoPath),
        new("preadv", "preadv", OnFd, NoPath),
        new("recvfrom", "recvfrom", OnFd, NoPath),
        new("recvmsg", "recvmsg", OnFd, NoPath),
        new("getdirentries", "getdents64", OnFd, NoPath),
        new("write", "write", OnFd, NoPath),
        new("pwrite", "pwrite64", OnFd, NoPath),
        new("writev", "writev", OnFd, NoPath),
        new("pwritev", "pwritev", OnFd, NoPath),
        new("sendto", "sendto", OnFd, NoPath),
        new("sendmsg", "sendmsg", OnFd, NoPath),
        new("sendfile", "sendfile", OnFd, NoPath),
        new("copy_file_range", "copy_file_range", OnFd, NoPath),
        new("open", "open", Returns, Path0),
        new("openat", "openat", Returns, Path1),
        new("close", "close", OnFd, NoPath),
        new("fstat", "fstat", OnFd, NoPath),
        new("fstatat", "newfstatat", NoFd, Path1),
        new("connect", "connect", OnFd, NoPath),
        new("accept", "accept", Returns, NoPath),
        new("accept4", "accept4", Returns, NoPath),
        new("bind", "bind", OnFd, NoPath),
        new("socket", "socket", Returns, NoPath),
        new("socketpair", "socketpair", NoFd, NoPath),
        new("shutdown", "shutdown", OnFd, NoPath),
        new("getpeername", "getpeername", OnFd, NoPath),
        new("getsockname", "getsockname", OnFd, NoPath),
        new("listen", "listen", OnFd, NoPath),
        new("setsockopt", "setsockopt", OnFd, NoPath),
        new("getsockopt", "getsockopt", OnFd, NoPath),
        new("fcntl", "fcntl", OnFd, NoPath),
        new("ioctl", "ioctl", OnFd, NoPath),
        new("fsync", "fsync", OnFd, NoPath),
        new("fdatasync", "fdatasync", OnFd, NoPath),
        new("poll", "poll", NoFd, NoPath),
        new("ppoll", "poll", NoFd, NoPath),
        new("select", "select", NoFd, NoPath),
        new("pselect", "select", NoFd, NoPath),
        new("lseek", "lseek", OnFd, NoPath),
        new("ftruncate", "ftruncate", OnFd, NoPath),
        new("posix_fallocate", "fallocate", OnFd, NoPath),
        new("flock", "flock", OnFd, NoPath),
        new("fchmod", "fchmod", OnFd, NoPath),
        new("fstatfs", "fstatfs", OnFd, NoPath),
        new("statfs", "statfs", NoFd, Path0),
        new("access", "access", NoFd, Path0),
        new("faccessat", "faccessat", NoFd, Path1),
        new("chmod", "chmod", NoFd, Path0),
        new("fchmodat", "fchmodat", NoFd, Path1),
        new("utimensat", "utimensat", NoFd, Path1),
        new("futimens", "utimensat", OnFd, NoPath),
        new("mkdir", "mkdir", NoFd, Path0),
        new("mkdirat", "mkdirat", NoFd, Path1),
        new("rmdir", "rmdir", NoFd, Path0),
        new("unlink", "unlink", NoFd, Path0),
        new("unlinkat", "unlinkat", NoFd, Path1),
        new("rename", "rename", NoFd, Path0),
        new("renameat", "renameat", NoFd, Path1),
        new("link", "link", NoFd, Path1),
        new("linkat", "linkat", NoFd, NoPath),
        new("symlink", "symlink", NoFd, Path1),
        new("symlinkat", "symlinkat", NoFd, NoPath),
        new("readlink", "readlink", NoFd, Path0),
        new("readlinkat", "readlinkat", NoFd, Path1),
    ];

    /// <summary>
    /// illumos and Solaris (usr/src/uts/common/os/sysent.c): libc's open, stat, access, mkdir, unlink and rename are
    /// their *at calls; sockets are the sockfs calls (<c>so_socket</c>), poll is <c>pollsys</c>.
    /// </summary>
    public static IReadOnlyList<PlatformSyscall> Illumos { get; } =
    [
        new("read", "read", OnFd, NoPath),
        new("pread", "pread64", OnFd, NoPath),
        new("readv", "readv", OnFd, NoPath),
        new("preadv", "preadv", OnFd, NoPath),
        new("recv", "recvfrom", OnFd, NoPath),
        new("recvfrom", "recvfrom", OnFd, NoPath),
        new("recvmsg", "recvmsg", OnFd, NoPath),
        new("getdents", "getdents64", OnFd, NoPath),
        new("write", "write", OnFd, NoPath),
        new("pwrite", "pwrite64", OnFd, NoPath),
        new("writev", "writev", OnFd, NoPath),
        new("pwritev", "pwritev", OnFd, NoPath),
        new("send", "sendto", OnFd, NoPath),
        new("sendto", "sendto", OnFd, NoPath),
        new("sendmsg", "sendmsg", OnFd, NoPath),
        new("sendfilev", "sendfile", OnFd, NoPath),
        new("openat", "openat", Returns, Path1),
        new("close", "close", OnFd, NoPath),
        new("fstat", "fstat", OnFd, NoPath),
        new("fstatat", "newfstatat", NoFd, Path1),
        new("connect", "connect", OnFd, NoPath),
        new("accept", "accept", Returns, NoPath),
        new("bind", "bind", OnFd, NoPath),
        new("so_socket", "socket", Returns, NoPath),
        new("so_socketpair", "socketpair", NoFd, NoPath),
        new("shutdown", "shutdown", OnFd, NoPath),
        new("getpeername", "getpeername", OnFd, NoPath),
        new("getsockname", "getsockname", OnFd, NoPath),
        new("listen", "listen", OnFd, NoPath),
        new("setsockopt", "setsockopt", OnFd, NoPath),
        new("getsockopt", "getsockopt", OnFd, NoPath),
        new("fcntl", "fcntl", OnFd, NoPath),
        new("ioctl", "ioctl", OnFd, NoPath),
        new("fdsync", "fsync", OnFd, NoPath),
        new("pollsys", "poll", NoFd, NoPath),
        new("lseek", "lseek", OnFd, NoPath),
        new("fstatvfs", "fstatfs", OnFd, NoPath),
        new("statvfs", "statfs", NoFd, Path0),
        new("faccessat", "faccessat", NoFd, Path1),
        new("fchmodat", "fchmodat", NoFd, Path1),
        new("utimesys", "utimensat", NoFd, NoPath),
        new("mkdirat", "mkdirat", NoFd, Path1),
        new("unlinkat", "unlinkat", NoFd, Path1),
        new("renameat", "renameat", NoFd, Path1),
        new("linkat", "linkat", NoFd, NoPath),
        new("symlinkat", "symlinkat", NoFd, NoPath),
        new("readlinkat", "readlinkat", NoFd, Path1),
    ];
}
