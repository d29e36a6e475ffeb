namespace IoTrace.Symbols;

/// <summary>
/// A walk that delivers plain return addresses and learns nothing, as <see cref="StackAttributor"/> sees it: dtrace's
/// script (frame pointers after the libc wrapper: a frame without one ends the walk or skips its caller, and the stack
/// resolves to a frame further up, or to none), and the Windows kernel's own walk, which ETW delivers whole.
/// </summary>
internal sealed class PlainStackWalk : IStackWalk
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
