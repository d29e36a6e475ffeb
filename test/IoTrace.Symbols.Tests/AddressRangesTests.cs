using Xunit;

namespace IoTrace.Symbols.Tests;

public sealed class AddressRangesTests
{
    private static readonly AddressRanges s_ranges = new([(0x3800, 0x4000), (0x1000, 0x2000), (0x3000, 0x3800)]);

    [Theory]
    [InlineData(0x0fffUL, -1)]
    [InlineData(0x1000UL, 0)]
    [InlineData(0x1fffUL, 0)]
    [InlineData(0x2000UL, -1)]
    [InlineData(0x2fffUL, -1)]
    [InlineData(0x3000UL, 1)]
    [InlineData(0x37ffUL, 1)]
    [InlineData(0x3800UL, 2)]
    [InlineData(ulong.MaxValue, -1)]
    public void IndexOf_Address_TheSortedIndexOfTheRangeThatHoldsIt(ulong address, int expected) =>
        Assert.Equal(expected, s_ranges.IndexOf(address));

    [Fact]
    public void IndexOf_EndInclusive_TheEndOfARangeCountsAsIn() =>
        Assert.Equal((-1, 0), (s_ranges.IndexOf(0x2000), s_ranges.IndexOf(0x2000, endInclusive: true)));

    [Fact]
    public void IndexOf_NoRanges_None() => Assert.Equal(-1, AddressRanges.Empty.IndexOf(0x1000));
}
