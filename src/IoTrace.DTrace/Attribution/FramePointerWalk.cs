using IoTrace.Symbols;

namespace IoTrace.DTrace.Attribution;

/// <summary>
/// The script's walk, as <see cref="StackAttributor"/> sees it: plain frame pointers after the libc wrapper, no flags,
/// nothing to learn. A frame without a frame pointer (frameless ReadyToRun code, native code built without them) ends
/// it or skips its caller; the stack then resolves to a frame further up, or to none.
/// </summary>
internal sealed class FramePointerWalk : IStackWalk
{
    public ulong AddressOf(ulong frame) => frame;

    public bool IsMarker(ulong address) => false;

    public bool StoppedShort(ulong[] stack) => false;

    public void Found(ulong[] stack, int index, int rulesId)
    {
    }

    public void ForgetWhere(Func<ulong[], bool> unloaded)
    {
    }

    public void ForgetAll()
    {
    }
}
