using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;
using Xunit;

namespace IoTrace.Symbols.Tests;

public sealed class AddressRangesTests
{
    private static readonly (ulong Start, ulong End)[] s_ranges = [(0x1000, 0x2000), (0x3000, 0x3800), (0x3800, 0x4000)];

    [Theory]
    [InlineData(0x0fffUL, -1)]
    [InlineData(0x1000UL, 0)]
    [InlineData(0x2fffUL, 0)]
    [InlineData(0x3000UL, 1)]
    [InlineData(0x37ffUL, 1)]
    [InlineData(0x3800UL, 2)]
    [InlineData(ulong.MaxValue, 2)]
    public void LastStartingAtOrBefore_Address_IndexOfTheRangeItMayLieIn(ulong address, int expected) =>
        Assert.Equal(expected, AddressRanges.LastStartingAtOrBefore(s_ranges, address));

    [Fact]
    public void LastStartingAtOrBefore_NoRanges_None() =>
        Assert.Equal(-1, AddressRanges.LastStartingAtOrBefore([], 0x1000));
}
