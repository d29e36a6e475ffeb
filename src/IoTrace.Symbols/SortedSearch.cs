using System.Numerics;

namespace IoTrace.Symbols;

/// <summary>The one binary search of the symbol tables, all sorted ascending.</summary>
internal static class SortedSearch
{
    /// <summary>
    /// How many elements of <paramref name="sorted"/> are at or below <paramref name="value"/>: the index just past the
    /// last of them, 0 when none is (an upper bound). The element before it, if any, is the last one at or below.
    /// </summary>
    public static int CountAtOrBelow<T>(ReadOnlySpan<T> sorted, T value)
        where T : IComparisonOperators<T, T, bool>
    {
        var (lo, hi) = (0, sorted.Length);
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] <= value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}
