using System.Runtime.InteropServices;
using IoTrace.Probes;

namespace IoTrace.Platform.Linux;

/// <summary>
/// Where a libc IO function keeps its fd, path or peer, so one hook serves them all. A function whose probe opens an
/// fd (<see cref="ProbeTraits.OpensFd"/>) returns it.
/// </summary>
internal enum ArgumentLayout
{
    None,
    FdArg0,
    FdArg1,
    PathArg0,
    PathArg1,
    PathArg2,

    /// <summary>connect: the fd, then the peer's sockaddr and its length.</summary>
    Connect,

    /// <summary>accept: the listening fd, then where the peer's sockaddr and its length are written.</summary>
    Accept,

    /// <summary>poll: the pollfd array and its length; one fd (a socket's connect) is that call's fd.</summary>
    Poll,

    /// <summary>opendir: the path; libc opens it (openat) and stats the fd (newfstatat), and returns a DIR.</summary>
    OpenDir,

    /// <summary>readdir: a DIR, whose buffer libc refills with getdents64 once it has returned every entry.</summary>
    ReadDir,

    /// <summary>closedir: a DIR, whose fd libc closes.</summary>
    CloseDir,

    /// <summary>getnameinfo: the sockaddr whose name it looks up, and its length.</summary>
    AddressArg0,
}

/// <summary>
/// A libc function that does IO and the probe it reports as: the functions the in-process backend rebinds, and those a
/// kernel backend recognises as a native library's own IO.
/// </summary>
internal readonly record struct LibcIoFunction(string Symbol, int Probe, ArgumentLayout Layout, bool ReturnsSize)
{
    /// <summary>The functions, by symbol; the index is the symbol id the native shim reports.</summary>
    public static readonly LibcIoFunction[] All =
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
        Sized("copy_file_range", "copy_file_range"),
        Sized("splice", "splice"),
        Setup("open", "openat", ArgumentLayout.PathArg0),
        Setup("open64", "openat", ArgumentLayout.PathArg0),
        Setup("openat", "openat", ArgumentLayout.PathArg1),
        Setup("openat64", "openat", ArgumentLayout.PathArg1),
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
        Setup("socket", "socket", ArgumentLayout.None),
        Setup("socketpair", "socketpair", ArgumentLayout.None),
        Setup("shutdown", "shutdown", ArgumentLayout.FdArg0),
        Setup("getpeername", "getpeername", ArgumentLayout.FdArg0),
        Setup("fcntl", "fcntl", ArgumentLayout.FdArg0),
        Setup("fcntl64", "fcntl", ArgumentLayout.FdArg0),
        Setup("fsync", "fsync", ArgumentLayout.FdArg0),
        Setup("fdatasync", "fdatasync", ArgumentLayout.FdArg0),
        Setup("poll", "poll", ArgumentLayout.Poll),
        Setup("select", "select", ArgumentLayout.None),
        Setup("listen", "listen", ArgumentLayout.FdArg0),
        Setup("getsockname", "getsockname", ArgumentLayout.FdArg0),
        Setup("setsockopt", "setsockopt", ArgumentLayout.FdArg0),
        Setup("getsockopt", "getsockopt", ArgumentLayout.FdArg0),
        Setup("ioctl", "ioctl", ArgumentLayout.FdArg0),
        Setup("lseek", "lseek", ArgumentLayout.FdArg0),
        Setup("lseek64", "lseek", ArgumentLayout.FdArg0),
        Setup("ftruncate", "ftruncate", ArgumentLayout.FdArg0),
        Setup("ftruncate64", "ftruncate", ArgumentLayout.FdArg0),
        Setup("fallocate", "fallocate", ArgumentLayout.FdArg0),
        Setup("fallocate64", "fallocate", ArgumentLayout.FdArg0),
        Setup("posix_fadvise", "fadvise64", ArgumentLayout.FdArg0),
        Setup("posix_fadvise64", "fadvise64", ArgumentLayout.FdArg0),
        Setup("flock", "flock", ArgumentLayout.FdArg0),
        Setup("fchmod", "fchmod", ArgumentLayout.FdArg0),
        Setup("fstatfs", "fstatfs", ArgumentLayout.FdArg0),
        Setup("fstatfs64", "fstatfs", ArgumentLayout.FdArg0),
        Setup("statfs", "statfs", ArgumentLayout.PathArg0),
        Setup("statfs64", "statfs", ArgumentLayout.PathArg0),
        Setup("access", OnX64("access", "faccessat"), ArgumentLayout.PathArg0),
        Setup("chmod", OnX64("chmod", "fchmodat"), ArgumentLayout.PathArg0),
        Setup("utimensat", "utimensat", ArgumentLayout.PathArg1),
        // futimens(fd, times) is utimensat(fd, NULL, times, 0), as strace shows it.
        Setup("futimens", "utimensat", ArgumentLayout.FdArg0),
        Setup("mkdir", OnX64("mkdir", "mkdirat"), ArgumentLayout.PathArg0),
        Setup("rmdir", OnX64("rmdir", "unlinkat"), ArgumentLayout.PathArg0),
        Setup("unlink", OnX64("unlink", "unlinkat"), ArgumentLayout.PathArg0),
        Setup("rename", OnX64("rename", "renameat2"), ArgumentLayout.PathArg0),
        // link and symlink name the path they create second.
        Setup("link", OnX64("link", "linkat"), ArgumentLayout.PathArg1),
        Setup("symlink", OnX64("symlink", "symlinkat"), ArgumentLayout.PathArg1),
        Setup("readlink", OnX64("readlink", "readlinkat"), ArgumentLayout.PathArg0),
        // A temporary file or folder made by name (Path.GetTempFileName, Directory.CreateTempSubdirectory): the open or
        // mkdir glibc makes inside, on the name it chose (written into the template, read after the call).
        Setup("mkstemps64", "openat", ArgumentLayout.PathArg0),
        Setup("mkstemps", "openat", ArgumentLayout.PathArg0),
        Setup("mkstemp64", "openat", ArgumentLayout.PathArg0),
        Setup("mkstemp", "openat", ArgumentLayout.PathArg0),
        Setup("mkdtemp", OnX64("mkdir", "mkdirat"), ArgumentLayout.PathArg0),
        // Name resolution reads files and may query a DNS server inside libc, where no hook reaches: the call stands
        // for all of it, with the host name as its target.
        Setup("getaddrinfo", "getaddrinfo", ArgumentLayout.PathArg0),
        Setup("getnameinfo", "getnameinfo", ArgumentLayout.AddressArg0),
        // A directory listing's system calls are made inside these: the hook counts them as strace shows them.
        Setup("opendir", "openat", ArgumentLayout.OpenDir),
        new("readdir64", ProbeCatalog.IndexOf("getdents64"), ArgumentLayout.ReadDir, ReturnsSize: true),
        new("readdir", ProbeCatalog.IndexOf("getdents64"), ArgumentLayout.ReadDir, ReturnsSize: true),
        Setup("closedir", "close", ArgumentLayout.CloseDir),
    ];

    public ProbeKind Kind => ProbeCatalog.Kind(Probe);

    /// <summary>Whether a successful call returns a new fd (open, socket, accept).</summary>
    public bool OpensFd => ProbeCatalog.Has(Probe, ProbeTraits.OpensFd);

    private static string LegacyStat(string syscall) => OnX64(syscall, "newfstatat");

    /// <summary>
    /// The system call a glibc function makes: the legacy one where x86_64 has it, the <c>*at</c> one on architectures
    /// that only have that (arm64), as strace names them there.
    /// </summary>
    private static string OnX64(string syscall, string elsewhere) =>
        RuntimeInformation.ProcessArchitecture == Architecture.X64 ? syscall : elsewhere;

    private static LibcIoFunction Sized(string symbol, string probe) => new(symbol, ProbeCatalog.IndexOf(probe), ArgumentLayout.FdArg0, ReturnsSize: true);

    private static LibcIoFunction Setup(string symbol, string probe, ArgumentLayout layout) => new(symbol, ProbeCatalog.IndexOf(probe), layout, ReturnsSize: false);
}
