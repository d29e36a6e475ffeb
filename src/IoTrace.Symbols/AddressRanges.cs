namespace IoTrace.Symbols;

/// <summary>Lookups in address ranges sorted by start.</summary>
internal static class AddressRanges
{
    /// <summary>The index of the last range starting at or before <paramref name="address"/>; -1 when none does.</summary>
    public static int LastStartingAtOrBefore(ReadOnlySpan<(ulong Start, ulong End)> sorted, ulong address)
    {
        var (lo, hi) = (0, sorted.Length);
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid].Start <= address)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo - 1;
    }
}
