using System.Collections.Frozen;
using System.Runtime.InteropServices;
using IoTrace.Platform;
using IoTrace.Platform.Linux;
using IoTrace.Probes;

namespace IoTrace.DTrace.Script;

/// <summary>
/// An operating system DTrace runs on, as a script on its <c>syscall</c> provider needs to know it: its system calls
/// (<see cref="Calls"/>, named as its own tools print them), the errno values the script tests, whether it has
/// <c>vtimestamp</c>, where a thread's slot is in the process's trace slot table, and its socket addresses' layout.
/// </summary>
internal sealed class DTracePlatform
{
    private DTracePlatform(string name, IReadOnlyList<PlatformSyscall> calls, int eagain, int einprogress, bool hasVtimestamp, string slotIndex, bool slotHoldsTid, SocketAddressLayout sockets)
    {
        Sockets = sockets;
        Name = name;
        Calls = calls;
        Eagain = eagain;
        Einprogress = einprogress;
        HasVtimestamp = hasVtimestamp;
        SlotIndex = slotIndex;
        SlotHoldsTid = slotHoldsTid;
        _byProviderName = calls.ToFrozenDictionary(static c => c.ProviderName, StringComparer.Ordinal);
    }

    private readonly FrozenDictionary<string, PlatformSyscall> _byProviderName;

    /// <summary>Oracle's DTrace for Linux: strace's names (<see cref="LinuxSyscalls.X64"/>); no <c>vtimestamp</c> in 2.0.1.</summary>
    public static DTracePlatform Linux { get; } = new("linux", SyscallCatalogs.Linux, eagain: 11, einprogress: 115, hasVtimestamp: false, "tid", slotHoldsTid: false, SocketAddressLayout.Linux);

    /// <summary>
    /// macOS: the <c>$NOCANCEL</c> and <c>$INODE64</c> variants .NET's libSystem.Native.dylib calls, as dtruss prints
    /// them. Its thread ids are 64-bit and system-wide: the slot is the id's low 20 bits, and holds the id to be sure.
    /// </summary>
    public static DTracePlatform MacOS { get; } = new("macos", SyscallCatalogs.MacOS, eagain: 35, einprogress: 36, hasVtimestamp: true, "(tid & 0xfffff)", slotHoldsTid: true, SocketAddressLayout.MacOS);

    /// <summary>FreeBSD: syscalls.master's names, as truss prints them; thread ids from 100000, one slot each.</summary>
    public static DTracePlatform FreeBsd { get; } = new("freebsd", SyscallCatalogs.FreeBsd, eagain: 35, einprogress: 36, hasVtimestamp: true, "tid", slotHoldsTid: false, SocketAddressLayout.FreeBsd);

    /// <summary>illumos and Solaris: the system call table's names, as truss prints them; LWP ids are per process and small.</summary>
    public static DTracePlatform Illumos { get; } = new("illumos", SyscallCatalogs.Illumos, eagain: 11, einprogress: 150, hasVtimestamp: true, "tid", slotHoldsTid: false, SocketAddressLayout.Illumos);

    public static IReadOnlyList<DTracePlatform> All { get; } = [Linux, MacOS, FreeBsd, Illumos];

    /// <summary>The platform this process runs on, or null where DTrace does not run (Windows).</summary>
    public static DTracePlatform? Current =>
        OperatingSystem.IsLinux() ? Linux
        : OperatingSystem.IsMacOS() ? MacOS
        : OperatingSystem.IsFreeBSD() ? FreeBsd
        : RuntimeInformation.IsOSPlatform(OSPlatform.Create("ILLUMOS")) || RuntimeInformation.IsOSPlatform(OSPlatform.Create("SOLARIS")) ? Illumos
        : null;

    /// <summary>Lower case, for file names: <c>linux</c>, <c>macos</c>, <c>freebsd</c>, <c>illumos</c>.</summary>
    public string Name { get; }

    public IReadOnlyList<PlatformSyscall> Calls { get; }

    /// <summary>The errno of a call that would block: its trace then owns the fd until the retry.</summary>
    public int Eagain { get; }

    /// <summary>The errno of a non-blocking connect under way.</summary>
    public int Einprogress { get; }

    /// <summary>Whether D's <c>vtimestamp</c> (the thread's CPU time) exists: without it a report's CPU is unavailable, never 0.</summary>
    public bool HasVtimestamp { get; }

    /// <summary>The D expression of the current thread's slot number in the table.</summary>
    public string SlotIndex { get; }

    /// <summary>
    /// Whether the slot's second word holds its thread's id above its low 16 bits (the strategy bits), for the script
    /// to check: where slots are shared by ids (<see cref="SlotIndex"/> masks them), a thread never reads another's trace.
    /// </summary>
    public bool SlotHoldsTid { get; }

    /// <summary>How a connect's <c>sockaddr</c>, as the script prints it, reads on this OS.</summary>
    public SocketAddressLayout Sockets { get; }

    /// <summary>The call its <c>syscall</c> provider names <paramref name="providerName"/> (what <c>probefunc</c> prints), or null.</summary>
    public PlatformSyscall? Find(string providerName) => _byProviderName.GetValueOrDefault(providerName);

    /// <summary>The calls a trace of <paramref name="strategy"/> records, and every close (an fd's life ends there, whatever the strategy).</summary>
    public IEnumerable<PlatformSyscall> CallsFor(Strategy strategy) =>
        Calls.Where(c => c.ClosesFd || ProbeCatalog.Records(strategy, c.Kind));

    public override string ToString() => Name;
}

/// <summary>
/// One system call of a platform: <paramref name="Name"/> as the OS's tools name it (strace, dtruss, truss), the
/// Linux probe of <see cref="ProbeCatalog"/> it counts as (<paramref name="Like"/>: its direction and traits), where its
/// fd is and which argument is its path.
/// </summary>
internal sealed record PlatformSyscall(string Name, string Like, SyscallFd Fd, SyscallPath Path)
{
    private readonly int _probe = ProbeCatalog.IndexOf(Like);

    /// <summary>Its <c>syscall</c> provider's function name, where that is not <see cref="Name"/> (Linux's <c>newfstat</c> for strace's <c>fstat</c>).</summary>
    public string ProviderName { get; init; } = Name;

    public ProbeKind Kind => ProbeCatalog.Kind(_probe);

    public bool MovesBytes => ProbeCatalog.Has(_probe, ProbeTraits.MovesBytes);

    public bool ClosesFd => ProbeCatalog.Has(_probe, ProbeTraits.ClosesFd);

    /// <summary>A connect: its peer is printed, and EINPROGRESS makes its trace the socket's owner.</summary>
    public bool NamesPeer => ProbeCatalog.Has(_probe, ProbeTraits.NamesFd);

    /// <summary>A read or write on its fd argument: EAGAIN makes its trace the fd's owner until the retry.</summary>
    public bool MayBlockOnFd => Fd == SyscallFd.Arg0 && Kind is ProbeKind.Read or ProbeKind.Write or ProbeKind.Transfer;
}
