using IoTrace.Platform.Linux;
using IoTrace.Symbols.Native;
namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// What the process shares with the kernel program (<c>Bpf/iotrace.bpf.c</c>): how it walks and marks a stack, and
/// how its configuration and control block are laid out. The C file defines the same values; a test checks both agree.
/// </summary>
internal static class KernelProgram
{
    /// <summary>The program built with BTF: tp_btf programs, CPU time read from the task (CO-RE).</summary>
    public const string BtfObject = "iotrace.bpf.o";

    /// <summary>The program built without BTF, for kernels that have none: raw_tp programs, no CPU time.</summary>
    public const string NoBtfObject = "iotrace.nobtf.bpf.o";

    /// <summary>Return addresses kept per call: deep enough to pass the framework and reach the app's frame.</summary>
    public const int StackDepth = 48;

    /// <summary>
    /// Frames after which the walk asks whether the process already knows that stacks beginning this way have their
    /// app frame here (<see cref="Attribution.StackShortcuts"/>); if so it stops. The app's frame of FileStream,
    /// File.*Async and socket calls is 4 to 11 deep; each frame not walked saves a user read.
    /// </summary>
    public static readonly int[] Checkpoints = [6, 12, 24];

    private static readonly Lazy<LibcUnwindTable> s_libcSites = new(LoadLibcSites);

    /// <summary>
    /// The wrapper frames at the syscall sites of this process's libc, for the system calls the program counts: about
    /// 160 of glibc 2.36's 510 sites. Read once: libc is never unloaded or moved.
    /// </summary>
    public static LibcUnwindTable LibcSites => s_libcSites.Value;

    private static readonly Lazy<List<(ulong ReturnAddress, UnwindRule Rule)>> s_libcCallers = new(() => LibcCallerRules.Find(LibcSites, LibcCallerRules.AtMost));

    /// <summary>
    /// The rules that step through libc's own functions to the code that called them (<see cref="LibcCallerRules"/>):
    /// about 9,200, found in libc's file in 0.1 to 0.2 s. Found once, as <see cref="LibcSites"/>.
    /// </summary>
    public static IReadOnlyList<(ulong ReturnAddress, UnwindRule Rule)> LibcCallers => s_libcCallers.Value;

    /// <summary>FNV-1a over 64-bit words, as the program hashes a stack's frames: the offset basis and the prime.</summary>
    public const ulong HashBasis = 14695981039346656037;
    public const ulong HashPrime = 1099511628211;

    /// <summary>Ends a stack whose last frame has no unwind rule yet: the process learns one for it.</summary>
    public const ulong UnknownFrameMarker = 1;

    /// <summary>
    /// Set on the first frame past native frames stepped by rule. The walk cannot tell whether it stopped there because
    /// it reached managed code, or a native frame it has no rule for yet (whose rbp may still look like a frame
    /// pointer, into a stale frame): the process can, and trusts the frames after it only in the first case.
    /// </summary>
    public const ulong PastNativeFlag = 1UL << 62;

    /// <summary>Set on a return address the walk read through a frameless function's frame: the caller a frame-pointer walk would have skipped.</summary>
    public const ulong FramelessCallerFlag = 1UL << 61;

    /// <summary>The first frame the walk may read through a frameless function (the ones before step out of libc).</summary>
    public const int FirstFramelessFrame = 3;

    private const ulong FramelessHashMultiplier = 0x9E3779B97F4A7C15;

    /// <summary>A return address's bit in the frameless bloom: the top 4 bits of a multiplicative hash (16 bits).</summary>
    public static int FramelessBloomBit(ulong returnAddress) => (int)((returnAddress * FramelessHashMultiplier) >> 60);

    /// <summary>Rotating buffers: the process reads the one retired a rotation ago, so a probe that chose it just before has time to finish.</summary>
    public const int Buffers = 3;

    /// <summary>Bytes of a path the program keeps (its target).</summary>
    public const int PathLength = 256;

    /// <summary>System call numbers the configuration has a flag for (x86_64 has about 460).</summary>
    public const int SyscallSlots = 512;

    /// <summary>The unwind rules map's entries: e_sqlite3 alone teaches about 14,000.</summary>
    public const int UnwindRules = 65_536;

    /// <summary>The runtime's libraries the program knows the code of (<see cref="Symbols.RuntimeCode"/>): libcoreclr and libclrjit, one spare.</summary>
    public const int RuntimeRanges = 3;

    /// <summary>The configuration's bytes (<c>struct iotrace_config</c>): written before loading.</summary>
    public const int ConfigSize = 24 + (4 * SyscallSlots) + 16 + (16 * RuntimeRanges);

    /// <summary>The control block's bytes (<c>struct iotrace_control</c>): shared through its mmap.</summary>
    public const int ControlSize = 72;

    private static LibcUnwindTable LoadLibcSites()
    {
        try
        {
            return LibcUnwindTable.Load(ProcessMaps.Self, SyscallTable.X64.Select(s => s.Number).ToHashSet());
        }
#pragma warning disable CA1031 // The table only sharpens stacks: whatever goes wrong reading libc, the walk keeps its search.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return LibcUnwindTable.Empty($"libc could not be read: {e.GetType().Name}: {e.Message}");
        }
    }
}
