using System.Runtime.InteropServices;

namespace IoTrace.Ebpf.Kernel;

/// <summary>The kernel program's configuration (<c>struct iotrace_config</c>, its <c>.rodata.config</c> section), written before it is loaded.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KernelConfig
{
    public uint TargetTgid;
    public uint FdStatAtPacked;
    public uint FdUtimensAtPacked;
    public uint FdPollPacked;
    public ulong SlotTable;
    public fixed uint Syscalls[KernelProgram.SyscallSlots];

    /// <summary>Start and end of libc's code.</summary>
    public fixed ulong LibcCode[2];

    /// <summary>Start and end of each runtime library's code (<see cref="KernelProgram.RuntimeRanges"/>); unused ones are zero.</summary>
    public fixed ulong RuntimeCode[KernelProgram.RuntimeRanges * 2];
}

/// <summary>
/// The kernel program's control block (<c>struct iotrace_control</c>, its <c>.data.control</c> section), shared
/// through its mmap: the process writes the buffer to count into, the rules' generation and the frameless bloom; the
/// program counts the events of each buffer and flags the buffers a trace with context wrote into.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KernelControl
{
    public uint CurrentBuffer;
    public uint Padding;
    public ulong RulesGeneration;
    public fixed ulong Events[KernelProgram.Buffers];
    public fixed ulong ContextUsed[KernelProgram.Buffers];

    /// <summary>Which hashes of return addresses may have a frameless rule (<see cref="KernelProgram.FramelessBloomBit"/>): the walk looks one up only then.</summary>
    public ulong FramelessBloom;
}
