namespace IoTrace.Symbols.Managed;

/// <summary>
/// The JIT's IL-to-native map of one code version, sorted by native offset, so a native offset finds its IL offset
/// by binary search.
/// </summary>
internal sealed class ILToNativeMap
{
    private readonly int[] _nativeOffsets;
    private readonly int[] _ilOffsets;

    private ILToNativeMap(int[] nativeOffsets, int[] ilOffsets)
    {
        _nativeOffsets = nativeOffsets;
        _ilOffsets = ilOffsets;
    }

    public int Count => _nativeOffsets.Length;

    /// <summary>Builds a map from the event's parallel arrays, in any order.</summary>
    public static ILToNativeMap Create(int[] ilOffsets, int[] nativeOffsets)
    {
        // The runtime emits the entries in native order already; a stable sort keeps that order for equal native
        // offsets, where the last entry is the one that owns the code (the earlier ones have no code of their own).
        var order = new int[nativeOffsets.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) => nativeOffsets[a] != nativeOffsets[b] ? nativeOffsets[a].CompareTo(nativeOffsets[b]) : a.CompareTo(b));
        var native = new int[order.Length];
        var il = new int[order.Length];
        for (var i = 0; i < order.Length; i++)
        {
            native[i] = nativeOffsets[order[i]];
            il[i] = ilOffsets[order[i]];
        }

        return new ILToNativeMap(native, il);
    }

    /// <summary>
    /// The IL offset of the entry with the greatest native offset not above <paramref name="nativeOffset"/> (the last
    /// such entry when several share it); -1 when there is none. Negative results are the runtime's markers:
    /// -1 no mapping, -2 prolog, -3 epilog.
    /// </summary>
    public int FindILOffset(int nativeOffset)
    {
        var count = SortedSearch.CountAtOrBelow<int>(_nativeOffsets, nativeOffset);
        return count == 0 ? -1 : _ilOffsets[count - 1];
    }
}
