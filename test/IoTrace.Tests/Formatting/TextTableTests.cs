using System.Globalization;
using IoTrace.Formatting;
using Xunit;

namespace IoTrace.Tests.Formatting;

public sealed class TextTableTests
{
    private static readonly TextTable.Layout s_layout = new(("Name", false), ("Count", true), ("Note", false));

    [Fact]
    public void Add_TwoPasses_SizesColumnsToTheWidestCellAndLeavesNoTrailingSpaces()
    {
        var table = new TextTable(s_layout);
        using var writer = new StringWriter { NewLine = "\n" };
        for (var pass = 0; pass < 2; pass++)
        {
            table.Add("openat", TextTable.Cell.Number(1), "a note");
            table.Add("pread64", TextTable.Cell.Number(123456), null);
            table.Add("x", TextTable.Cell.NumberOrEmpty(null), null);
            if (pass == 0)
            {
                table.BeginWriting(writer);
            }
        }

        Assert.Equal(
            """
            Name      Count  Note
            openat        1  a note
            pread64  123456
            x

            """.ReplaceLineEndings("\n"),
            writer.ToString());
    }

    [Fact]
    public void Add_PaddingWiderThanOneRunOfSpaces_PaddedInFull()
    {
        var path = "/srv/" + new string('p', 600);
        var table = new TextTable(s_layout);
        using var writer = new StringWriter { NewLine = "\r\n" };
        for (var pass = 0; pass < 2; pass++)
        {
            table.Add(path, TextTable.Cell.Milliseconds(TimeSpan.FromTicks(12_345)), "end");
            table.Add("x", TextTable.Cell.Number(-5), null);
            if (pass == 0)
            {
                table.BeginWriting(writer);
            }
        }

        var padding = new string(' ', path.Length - 1);
        Assert.Equal(
            $"Name{new string(' ', path.Length - 4)}     Count  Note\r\n{path}  1.235 ms  end\r\nx{padding}        -5\r\n",
            writer.ToString());
    }

    [Fact]
    public void Add_RowOfTheWrongWidth_Throws()
    {
        var table = new TextTable(s_layout);

        Assert.Throws<ArgumentException>(() => table.Add("only one"));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(7L)]
    [InlineData(-7L)]
    [InlineData(10L)]
    [InlineData(-10L)]
    [InlineData(999_999_999_999L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    public void Number_Length_IsTheLengthItWrites(long value)
    {
        var cell = TextTable.Cell.Number(value);

        Assert.Equal(value.ToString(CultureInfo.InvariantCulture), cell.ToString());
        Assert.Equal(cell.ToString().Length, cell.Length);
    }

    [Fact]
    public void Milliseconds_AwayFromMidpoints_WritesWhatTheFixedPointFormatWrites()
    {
        // Every tick count below 0.2 s and a spread above, except exact microsecond midpoints (x.5 us), where the
        // double the format starts from may lie either side of the midpoint. Durations are never negative.
        var ticks = Enumerable.Range(0, 2_000_000).Select(t => (long)t)
            .Concat(Enumerable.Range(0, 10_000).Select(t => (t * 7_919_993L) + 3));
        foreach (var t in ticks.Where(t => t % 10 != 5))
        {
            var time = TimeSpan.FromTicks(t);
            var expected = time.TotalMilliseconds.ToString("0.000", CultureInfo.InvariantCulture) + " ms";
            var cell = TextTable.Cell.Milliseconds(time);

            if (cell.ToString() != expected || cell.Length != expected.Length)
            {
                Assert.Fail($"{t} ticks: '{cell}' (length {cell.Length}), expected '{expected}'");
            }
        }
    }

    [Theory]
    [InlineData(15L, "0.002 ms")]
    [InlineData(-15L, "-0.002 ms")]
    [InlineData(12_345_675L, "1234.568 ms")]
    [InlineData(-20_004L, "-2.000 ms")]
    [InlineData(-4L, "0.000 ms")]
    public void Milliseconds_MidpointOrNegative_RoundsAwayFromZero(long ticks, string expected)
    {
        var cell = TextTable.Cell.Milliseconds(TimeSpan.FromTicks(ticks));

        Assert.Equal(expected, cell.ToString());
        Assert.Equal(expected.Length, cell.Length);
    }
}
