using IoTrace.Platform.Linux;
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

    /// <summary>
    /// <see cref="LinuxSyscall.IsSocketOnly"/>: a trace without context checks the other calls' callers for the
    /// runtime's (iotrace.bpf.c), and skips these.
    /// </summary>
    public const int SocketOnly = 1 << 20;

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
    public static IReadOnlyList<(int Number, int Packed)> X64 { get; } = [.. LinuxSyscalls.X64.Select(s => (s.Number, Pack(s)))];

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

    /// <summary>
    /// A system call's description: its fd's place, where its path is, whether it moves bytes, opens an fd (or names one,
    /// as connect does), or closes one, and whether its path is its target (a call by path that opens nothing).
    /// </summary>
    private static int Pack(LinuxSyscall call)
    {
        var probe = ProbeCatalog.IndexOf(call.Probe);
        var opens = ProbeCatalog.Has(probe, ProbeTraits.OpensFd | ProbeTraits.NamesFd);
        var flags = (ProbeCatalog.Has(probe, ProbeTraits.MovesBytes) ? CountsBytes : 0)
            | (opens ? Opener : 0)
            | (ProbeCatalog.Has(probe, ProbeTraits.ClosesFd) ? Closes : 0)
            | call.Path switch { SyscallPath.Arg0 => PathArg0, SyscallPath.Arg1 => PathArg1, _ => 0 }
            | (call.Path != SyscallPath.None && !opens ? PathTarget : 0)
            | (call.IsSocketOnly ? SocketOnly : 0);
        return Pack(call.Probe, call.Fd switch { SyscallFd.Arg0 => FdArg0, SyscallFd.Result => FdResult, _ => FdNone }, flags);
    }

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
