using IoTrace.Ebpf.Kernel;
using IoTrace.Symbols;

namespace IoTrace.Ebpf.Attribution;

/// <summary>
/// The BPF program's hand walk of user stacks, as the attributor sees it: its flags and markers, the native and
/// frameless frames it is taught to step through (<see cref="NativeUnwindRules"/>, <see cref="FramelessFrames"/>),
/// and the checkpoints where it may stop once a stack's application frame is known (<see cref="StackShortcuts"/>).
/// </summary>
internal sealed class KernelStackWalk(StackShortcuts shortcuts, NativeUnwindRules? natives = null, FramelessFrames? frameless = null) : IStackWalk
{
    public ulong AddressOf(ulong frame) => frame & ~(KernelProgram.PastNativeFlag | KernelProgram.FramelessCallerFlag);

    public bool IsMarker(ulong address) => address <= KernelProgram.UnknownFrameMarker;

    // A walk that stopped in native code without frame pointers (e_sqlite3), or skipped a frameless framework function's
    // caller: the process teaches the kernel that frame, and the next call on this path walks further.
    public bool StoppedShort(ulong[] stack) => natives?.StoppedInNativeCode(stack) == true || frameless?.SkippedACaller(stack) == true;

    public void Found(ulong[] stack, int index, int rulesId) => shortcuts.Found(stack, index, rulesId);

    public void ForgetWhere(Func<ulong[], bool> unloaded) => shortcuts.ForgetWhere(unloaded);

    public void ForgetAll() => shortcuts.ForgetAll();
}
