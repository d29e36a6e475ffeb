using IoTrace.Core;

namespace IoTrace.Backends.InProcess;

/// <summary>Where a hooked libc function keeps its fd, path or peer, so one hook serves them all.</summary>
internal enum ArgumentLayout
{
    None,
    FdArg0,
    FdArg1,
    PathArg0,
    PathArg1,
    PathArg2,
    OpenPathArg0,
    OpenPathArg1,
    ResultFd,
    Connect,
    Accept,
    Poll,
}

/// <summary>A libc import that the in-process backend rebinds, and the probe it reports as.</summary>
internal readonly record struct ImportedFunction(string Symbol, int Probe, ArgumentLayout Layout, bool ReturnsSize)
{
    /// <summary>The imports hooked, by symbol; the index is the symbol id the native side reports.</summary>
    public static readonly ImportedFunction[] All =
    [
        Sized("read", "read"),
        Sized("pread64", "pread64"),
        Sized("readv", "readv"),
        Sized("preadv", "preadv"),
        Sized("preadv64", "preadv"),
        Sized("recv", "recvfrom"),
        Sized("recvfrom", "recvfrom"),
        Sized("recvmsg", "recvmsg"),
        Sized("write", "write"),
        Sized("pwrite64", "pwrite64"),
        Sized("writev", "writev"),
        Sized("pwritev", "pwritev"),
        Sized("pwritev64", "pwritev"),
        Sized("send", "sendto"),
        Sized("sendto", "sendto"),
        Sized("sendmsg", "sendmsg"),
        Sized("sendfile", "sendfile"),
        Sized("sendfile64", "sendfile"),
        Setup("open", "openat", ArgumentLayout.OpenPathArg0),
        Setup("open64", "openat", ArgumentLayout.OpenPathArg0),
        Setup("openat", "openat", ArgumentLayout.OpenPathArg1),
        Setup("openat64", "openat", ArgumentLayout.OpenPathArg1),
        Setup("close", "close", ArgumentLayout.FdArg0),
        // glibc's pre-2.33 entry points (what libSystem.Native links against) make the legacy syscalls where
        // the architecture has them; the newer stat functions all go through newfstatat.
        Setup("__xstat64", LegacyStat("stat"), ArgumentLayout.PathArg1),
        Setup("__lxstat64", LegacyStat("lstat"), ArgumentLayout.PathArg1),
        Setup("__fxstat64", "fstat", ArgumentLayout.FdArg1),
        Setup("__fxstatat64", "newfstatat", ArgumentLayout.PathArg2),
        Setup("stat", "newfstatat", ArgumentLayout.PathArg0),
        Setup("stat64", "newfstatat", ArgumentLayout.PathArg0),
        Setup("lstat", "newfstatat", ArgumentLayout.PathArg0),
        Setup("lstat64", "newfstatat", ArgumentLayout.PathArg0),
        Setup("fstat", "newfstatat", ArgumentLayout.FdArg0),
        Setup("fstat64", "newfstatat", ArgumentLayout.FdArg0),
        Setup("fstatat", "newfstatat", ArgumentLayout.PathArg1),
        Setup("fstatat64", "newfstatat", ArgumentLayout.PathArg1),
        Setup("statx", "statx", ArgumentLayout.PathArg1),
        Setup("connect", "connect", ArgumentLayout.Connect),
        Setup("accept", "accept", ArgumentLayout.Accept),
        Setup("accept4", "accept4", ArgumentLayout.Accept),
        Setup("bind", "bind", ArgumentLayout.FdArg0),
        Setup("socket", "socket", ArgumentLayout.ResultFd),
        Setup("socketpair", "socketpair", ArgumentLayout.None),
        Setup("shutdown", "shutdown", ArgumentLayout.FdArg0),
        Setup("getpeername", "getpeername", ArgumentLayout.FdArg0),
        Setup("fcntl", "fcntl", ArgumentLayout.FdArg0),
        Setup("fcntl64", "fcntl", ArgumentLayout.FdArg0),
        Setup("fsync", "fsync", ArgumentLayout.FdArg0),
        Setup("fdatasync", "fdatasync", ArgumentLayout.FdArg0),
        Setup("poll", "poll", ArgumentLayout.Poll),
        Setup("select", "select", ArgumentLayout.None),
    ];

    public ProbeKind Kind => Probes.Kind(Probe);

    private static string LegacyStat(string syscall) =>
        System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64 ? syscall : "newfstatat";

    private static ImportedFunction Sized(string symbol, string probe) => new(symbol, Probes.IndexOf(probe), ArgumentLayout.FdArg0, ReturnsSize: true);

    private static ImportedFunction Setup(string symbol, string probe, ArgumentLayout layout) => new(symbol, Probes.IndexOf(probe), layout, ReturnsSize: false);
}
