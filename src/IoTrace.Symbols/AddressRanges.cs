namespace IoTrace.Symbols;

/// <summary>Address ranges, sorted by start and not overlapping: which one holds an address.</summary>
internal sealed class AddressRanges
{
    private readonly ulong[] _starts;
    private readonly ulong[] _ends;

    /// <summary>The ranges [start, end), in any order.</summary>
    public AddressRanges(IEnumerable<(ulong Start, ulong End)> ranges)
    {
        var sorted = ranges.Order().ToArray();
        _starts = [.. sorted.Select(r => r.Start)];
        _ends = [.. sorted.Select(r => r.End)];
    }

    public static AddressRanges Empty { get; } = new([]);

    public int Count => _starts.Length;

    /// <summary>The index (in sorted order) of the range that holds <paramref name="address"/>, or -1.</summary>
    public int IndexOf(ulong address) => IndexOf(address, endInclusive: false);

    /// <summary>
    /// The index of the range that holds <paramref name="address"/>, counting its end as in it where
    /// <paramref name="endInclusive"/> (a return address may be a function's end: a call as its last instruction); or -1.
    /// </summary>
    public int IndexOf(ulong address, bool endInclusive)
    {
        var index = SortedSearch.CountAtOrBelow<ulong>(_starts, address) - 1;
        return index >= 0 && (address < _ends[index] || (endInclusive && address == _ends[index])) ? index : -1;
    }

    public bool Contains(ulong address) => IndexOf(address) >= 0;
}
