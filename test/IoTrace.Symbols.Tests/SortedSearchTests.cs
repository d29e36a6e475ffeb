using Xunit;

namespace IoTrace.Symbols.Tests;

public sealed class SortedSearchTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(10, 1)]
    [InlineData(19, 1)]
    [InlineData(20, 3)]
    [InlineData(30, 4)]
    [InlineData(int.MaxValue, 4)]
    public void CountAtOrBelow_Value_IndexPastTheLastElementAtOrBelowIt(int value, int expected) =>
        Assert.Equal(expected, SortedSearch.CountAtOrBelow<int>([10, 20, 20, 30], value));

    [Fact]
    public void CountAtOrBelow_Empty_Zero() => Assert.Equal(0, SortedSearch.CountAtOrBelow<ulong>([], 5UL));
}
