using System.Runtime.InteropServices;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// The kernel program's fd-state array (<c>fds</c>), mapped into the process: a shared connection's socket is marked
/// there, so that the program counts its calls outside traces for the connection, as for a trace of its own; and each
/// number's generation is read there, to tell whether an fd is still the life a flush speaks of.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed unsafe class KernelFdStates : IDisposable
{
    /// <summary>The array's fds (<c>FD_SLOTS</c>); a number past them keeps its state in a hash map, never marked.</summary>
    public const int Slots = 262_144;

    /// <summary>Fd-state flag: the marking is a shared connection's, kept until lifted (never consumed by a retry).</summary>
    public const ulong SharedFlag = 32;

    [StructLayout(LayoutKind.Sequential)]
    private struct FdState
    {
        public long Generation;
        public ulong Trace;
        public ulong Flags;
    }

    private static readonly nuint s_length = (nuint)(((Slots * sizeof(FdState)) + 4095) & ~4095);

    private readonly FdState* _states;

    private KernelFdStates(FdState* states) => _states = states;

    public static KernelFdStates Map(int mapFd)
    {
        var mapped = LibcInterop.Mmap(0, s_length, LibcInterop.PROT_READ | LibcInterop.PROT_WRITE, LibcInterop.MAP_SHARED, mapFd, 0);
        return mapped == -1
            ? throw new InvalidOperationException($"mapping the kernel program's fd states failed ({Marshal.GetLastSystemError()})")
            : new KernelFdStates((FdState*)mapped);
    }

    /// <summary>The kernel program's generation of <paramref name="fd"/>'s number (its closes); null past the array.</summary>
    public long? Generation(int fd) => (uint)fd < Slots ? Volatile.Read(ref _states[fd].Generation) : null;

    /// <summary>
    /// Counts <paramref name="fd"/>'s calls outside traces for <paramref name="id"/> with <paramref name="kinds"/>'
    /// strategy bits; false where the fd is past the array, or was closed while being marked (then left unmarked).
    /// </summary>
    public bool Mark(int fd, ulong id, ulong kinds)
    {
        if ((uint)fd >= Slots)
        {
            return false;
        }

        var state = &_states[fd];
        var generation = Volatile.Read(ref state->Generation);

        // Flags before the id: the program reads the id first, and takes no call with the id but no flags.
        Volatile.Write(ref state->Flags, kinds | SharedFlag);
        Volatile.Write(ref state->Trace, id);
        if (Volatile.Read(ref state->Generation) != generation)
        {
            Unmark(fd, id);
            return false;
        }

        return true;
    }

    /// <summary>Stops counting <paramref name="fd"/>'s calls for <paramref name="id"/>, if it is still marked for it.</summary>
    public void Unmark(int fd, ulong id)
    {
        if ((uint)fd < Slots && Interlocked.CompareExchange(ref _states[fd].Trace, 0, id) == id)
        {
            Volatile.Write(ref _states[fd].Flags, 0);
        }
    }

    public void Dispose() => _ = LibcInterop.Munmap((nint)_states, s_length);
}
