using IoTrace.Probes;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// Which x86_64 system calls the kernel program counts, and how: each one is packed into an integer the BPF
/// program reads from a map (probe, strategy kind, where its fd is, whether it opens or closes one).
/// </summary>
internal static class SyscallTable
{
    // Bit layout shared with the kernel program (Bpf/iotrace.bpf.c): KernelProgramTests checks both agree.
    public const int KindShift = 8;
    public const int FdShift = 12;
    public const int FdNone = 0;
    public const int FdArg0 = 1;
    public const int FdResult = 2;
    public const int Opener = 1 << 14;
    public const int CountsBytes = 1 << 15;
    public const int Closes = 1 << 16;

    /// <summary>Where the call's path is: the second argument, or the first (an opener's is its fd's target).</summary>
    public const int PathArg1 = 1 << 17;
    public const int PathArg0 = 1 << 18;

    /// <summary>A stat by path: its path gets an id (the kernel program's path id) that stands in place of an fd, for its target.</summary>
    public const int PathTarget = 1 << 19;

    /// <summary>Kernel strategy bits, as written in a thread's slot; <see cref="Context"/> keeps fd and stack.</summary>
    public const int Setup = 1;
    public const int Read = 2;
    public const int Write = 4;
    public const int Context = 8;

    /// <summary>Slot bit: the trace measures on-CPU time. Without it the program keeps no CPU map, so a flush prints a quarter fewer entries.</summary>
    public const int Cpu = 16;

    /// <summary>
    /// Slot bits 32 to 39: the id of the trace's attribution rules (its resolver), 1 to 255; 0 takes no stack shortcut.
    /// A shortcut is valid only for the rules that found the app frame in it (skipped namespaces move that frame).
    /// </summary>
    public const int RulesShift = 32;

    public const int MaxRulesId = 255;

    public const int NewFstatAt = 262;
    public const int UtimensAt = 280;
    public const int StatX = 332;
    public const int Connect = 42;

    /// <summary>Syscall number and packed description, x86_64.</summary>
    public static IReadOnlyList<(int Number, int Packed)> X64 { get; } =
    [
        (0, Pack("read", FdArg0, CountsBytes)),
        (17, Pack("pread64", FdArg0, CountsBytes)),
        (19, Pack("readv", FdArg0, CountsBytes)),
        (295, Pack("preadv", FdArg0, CountsBytes)),
        (327, Pack("preadv2", FdArg0, CountsBytes)),
        (45, Pack("recvfrom", FdArg0, CountsBytes)),
        (47, Pack("recvmsg", FdArg0, CountsBytes)),
        (1, Pack("write", FdArg0, CountsBytes)),
        (18, Pack("pwrite64", FdArg0, CountsBytes)),
        (20, Pack("writev", FdArg0, CountsBytes)),
        (296, Pack("pwritev", FdArg0, CountsBytes)),
        (328, Pack("pwritev2", FdArg0, CountsBytes)),
        (44, Pack("sendto", FdArg0, CountsBytes)),
        (46, Pack("sendmsg", FdArg0, CountsBytes)),
        (40, Pack("sendfile", FdArg0, CountsBytes)),
        (326, Pack("copy_file_range", FdArg0, CountsBytes)),
        (275, Pack("splice", FdArg0, CountsBytes)),
        (217, Pack("getdents64", FdArg0, CountsBytes)),
        (257, Pack("openat", FdResult, Opener | PathArg1)),
        (2, Pack("open", FdResult, Opener | PathArg0)),
        (3, Pack("close", FdArg0, Closes)),
        (NewFstatAt, Pack("newfstatat", FdNone, PathTarget | PathArg1)),
        (4, Pack("stat", FdNone, PathTarget | PathArg0)),
        (6, Pack("lstat", FdNone, PathTarget | PathArg0)),
        (5, Pack("fstat", FdArg0, 0)),
        (StatX, Pack("statx", FdNone, PathTarget | PathArg1)),
        (Connect, Pack("connect", FdArg0, Opener)),
        (43, Pack("accept", FdResult, Opener)),
        (288, Pack("accept4", FdResult, Opener)),
        (49, Pack("bind", FdArg0, 0)),
        (41, Pack("socket", FdResult, Opener)),
        (53, Pack("socketpair", FdNone, 0)),
        (48, Pack("shutdown", FdArg0, 0)),
        (52, Pack("getpeername", FdArg0, 0)),
        (72, Pack("fcntl", FdArg0, 0)),
        (74, Pack("fsync", FdArg0, 0)),
        (75, Pack("fdatasync", FdArg0, 0)),
        (Poll, Pack("poll", FdNone, 0)),
        (PPoll, Pack("poll", FdNone, 0)),
        (23, Pack("select", FdNone, 0)),
        (270, Pack("select", FdNone, 0)),
        (50, Pack("listen", FdArg0, 0)),
        (51, Pack("getsockname", FdArg0, 0)),
        (54, Pack("setsockopt", FdArg0, 0)),
        (55, Pack("getsockopt", FdArg0, 0)),
        (16, Pack("ioctl", FdArg0, 0)),
        (8, Pack("lseek", FdArg0, 0)),
        (77, Pack("ftruncate", FdArg0, 0)),
        (285, Pack("fallocate", FdArg0, 0)),
        (221, Pack("fadvise64", FdArg0, 0)),
        (73, Pack("flock", FdArg0, 0)),
        (91, Pack("fchmod", FdArg0, 0)),
        (138, Pack("fstatfs", FdArg0, 0)),
        (137, Pack("statfs", FdNone, PathTarget | PathArg0)),
        (21, Pack("access", FdNone, PathTarget | PathArg0)),
        (269, Pack("faccessat", FdNone, PathTarget | PathArg1)),
        (439, Pack("faccessat2", FdNone, PathTarget | PathArg1)),
        (90, Pack("chmod", FdNone, PathTarget | PathArg0)),
        (268, Pack("fchmodat", FdNone, PathTarget | PathArg1)),
        (UtimensAt, Pack("utimensat", FdNone, PathTarget | PathArg1)),
        (83, Pack("mkdir", FdNone, PathTarget | PathArg0)),
        (258, Pack("mkdirat", FdNone, PathTarget | PathArg1)),
        (84, Pack("rmdir", FdNone, PathTarget | PathArg0)),
        (87, Pack("unlink", FdNone, PathTarget | PathArg0)),
        (263, Pack("unlinkat", FdNone, PathTarget | PathArg1)),
        (82, Pack("rename", FdNone, PathTarget | PathArg0)),
        (264, Pack("renameat", FdNone, PathTarget | PathArg1)),
        (316, Pack("renameat2", FdNone, PathTarget | PathArg1)),
        (86, Pack("link", FdNone, PathTarget | PathArg1)),
        (88, Pack("symlink", FdNone, PathTarget | PathArg1)),
        // The path these create is their fourth or third argument, beyond what the program reads: no target.
        (265, Pack("linkat", FdNone, 0)),
        (266, Pack("symlinkat", FdNone, 0)),
        (89, Pack("readlink", FdNone, PathTarget | PathArg0)),
        (267, Pack("readlinkat", FdNone, PathTarget | PathArg1)),
    ];

    /// <summary>
    /// utimensat on an fd with no path (futimens, as File.Copy sets the copy's times): the same probe, with its fd (for the
    /// target) read from the first argument.
    /// </summary>
    public static int FdUtimensAtPacked { get; } = Pack("utimensat", FdArg0, 0);

    /// <summary>
    /// newfstatat on an fd (AT_EMPTY_PATH: glibc 2.33+'s fstat, as e_sqlite3 calls it): the same probe, as strace and the
    /// in-process backend name it, with its fd (for the target) read from the first argument.
    /// </summary>
    public static int FdStatAtPacked { get; } = Pack("newfstatat", FdArg0, 0);

    /// <summary>
    /// poll and ppoll on one fd (how the runtime waits for a socket's connect): the same probe with that fd, read from
    /// the first pollfd, as the in-process backend reads it; on more fds, none.
    /// </summary>
    public static int FdPollPacked { get; } = Pack("poll", FdArg0, 0);

    /// <summary>The system call numbers of poll and ppoll (x64).</summary>
    public const int Poll = 7;
    public const int PPoll = 271;

    /// <summary>The kernel bits for a strategy (what <see cref="ProbeCatalog.Records"/> records), plus context where it keeps it.</summary>
    public static int StrategyBits(Strategy strategy, bool measuresCpu = true) => (measuresCpu ? Cpu : 0) | strategy switch
    {
        Strategy.Summary => Setup | Read | Write,
        Strategy.Setup => Setup | Context,
        Strategy.Read => Read | Context,
        Strategy.Write => Write | Context,
        _ => Setup | Read | Write | Context,
    };

    /// <summary>The probe index (into <see cref="Probes"/>) a kernel key names; keys carry it plus one so 0 means none.</summary>
    public static int ProbeOf(long kernelProbe) => (int)kernelProbe - 1;

    private static int Pack(string probe, int fd, int flags)
    {
        var index = ProbeCatalog.IndexOf(probe);
        var kind = ProbeCatalog.Kind(index) switch
        {
            ProbeKind.Setup => Setup,
            ProbeKind.Read => Read,
            ProbeKind.Write => Write,
            _ => Read | Write,
        };
        return (index + 1) | (kind << KindShift) | (fd << FdShift) | flags;
    }
}
