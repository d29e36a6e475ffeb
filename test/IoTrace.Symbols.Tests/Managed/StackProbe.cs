using System.Diagnostics;
using System.Runtime.CompilerServices;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;

namespace IoTrace.Symbols.Tests.Managed;

/// <summary>
/// What a kernel stack walk would see of the calling method: the raw stack words above the probe's frame (one of
/// them is the return address into the caller, the address ustack reports) and the runtime's own StackFrame of the
/// caller (native offset, IL offset, file and line), to compare the map's answer with.
/// </summary>
internal sealed class StackProbe
{
    private const int Words = 256;

    private StackProbe(ulong[] stackWords, StackFrame[] frames, int callLine)
    {
        StackWords = stackWords;
        Frames = frames;
        CallLine = callLine;
    }

    public ulong[] StackWords { get; }

    /// <summary>The runtime's frames from the caller of <see cref="Capture"/> outwards.</summary>
    public StackFrame[] Frames { get; }

    public StackFrame CallerFrame => Frames[0];

    /// <summary>The line of the caller that called <see cref="Capture"/>.</summary>
    public int CallLine { get; }

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe StackProbe Capture([CallerLineNumber] int line = 0)
    {
        var words = new ulong[Words];
        ulong local = 0;
        var p = &local;

        // Everything above this local: our saved registers, the return address into the caller, the caller's frame,
        // its return address, and so on.
        for (var i = 0; i < Words; i++)
        {
            words[i] = p[i];
        }

        return new StackProbe(words, new StackTrace(1, fNeedFileInfo: true).GetFrames(), line);
    }

    /// <summary>
    /// The first stack word (nearest the probe) that the map resolves, as a return address, to the method of
    /// <see cref="Frames"/>[<paramref name="frameIndex"/>]: the return address into that frame.
    /// </summary>
    public bool TryFindReturnAddress(ManagedCodeMap map, int frameIndex, out ulong address, out ManagedFrame frame)
    {
        var method = Frames[frameIndex].GetMethod();
        foreach (var word in StackWords)
        {
            if (map.TryResolve(word, isReturnAddress: true, out frame) && Equals(frame.Method, method))
            {
                address = word;
                return true;
            }
        }

        address = 0;
        frame = default;
        return false;
    }
}
