using IoTrace.Ebpf.Kernel;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;

namespace IoTrace.Ebpf.Attribution;

/// <summary>
/// ReadyToRun framework functions that keep no frame pointer (small wrappers: StreamReader's path constructor) hide
/// their caller from the kernel's frame-pointer walk: it reads the next return address at the callee's saved rbp,
/// which is the caller's caller's frame. A stack that runs through one is recognised here from the assembly's unwind
/// information; the kernel is taught that return address's frame size and a bit of its bloom, and walks of stacks
/// through it from then on read the caller from the frameless frame and flag it
/// (<see cref="KernelProgram.FramelessCallerFlag"/>). Used by one thread (the flush processor).
/// </summary>
/// <param name="images">The process's file mappings (the attributor's).</param>
/// <param name="teach">Hands the kernel a frameless function's return address and CFA offset, and its bloom bit.</param>
internal sealed class FramelessFrames(FileImages images, Action<ulong, int> teach)
{
    private readonly Dictionary<string, ReadyToRunFrames?> _assemblies = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, bool> _known = [];

    /// <summary>
    /// Whether <paramref name="stack"/> skipped a frameless function's caller: one of its return addresses is in such
    /// a function and the next is not the caller the kernel reads through it (the walk ran before it was taught).
    /// Teaches the kernel on the way: every walk from then on, on any thread, reads that caller.
    /// </summary>
    public bool SkippedACaller(ulong[] stack)
    {
        for (var i = KernelProgram.FirstFramelessFrame; i + 1 < stack.Length; i++)
        {
            var address = stack[i] & ~(KernelProgram.PastNativeFlag | KernelProgram.FramelessCallerFlag);
            if (IsFrameless(address) && (stack[i + 1] & KernelProgram.FramelessCallerFlag) == 0)
            {
                return true;
            }
        }

        return false;
    }

    private bool IsFrameless(ulong returnAddress)
    {
        if (_known.TryGetValue(returnAddress, out var frameless))
        {
            return frameless;
        }

        frameless = false;
        if (images.TryFind(returnAddress, out var path, out var fileOffset) && path.EndsWith(".dll", StringComparison.Ordinal))
        {
            if (!_assemblies.TryGetValue(path, out var assembly))
            {
                _assemblies[path] = assembly = ReadyToRunFrames.TryOpen(path);
            }

            // The byte before a return address is its call's: a call may be its function's last instruction.
            if (assembly is not null && assembly.TryGetFramelessFrameAtFileOffset(fileOffset - 1, out var cfaOffset))
            {
                teach(returnAddress, cfaOffset);
                frameless = true;
            }
        }

        if (_known.Count > 100_000)
        {
            _known.Clear();
        }

        _known[returnAddress] = frameless;
        return frameless;
    }
}
