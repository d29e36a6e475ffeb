using System.Globalization;
using IoTrace.Symbols.Native;
using IoTrace.Symbols.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Symbols.Tests.Native;

/// <summary>The rules for libc's own frames on the way to its wrappers, on this machine's libc, checked against binutils.</summary>
public sealed class LibcCallerRulesTests
{
    /// <summary>
    /// The frames of the runtime's reads of /proc/meminfo between the wrapper and libcoreclr: fopen's open, the stat of
    /// stdio's first read and its read (through stdio's vtable, an indirect call), fclose's close (also through it).
    /// </summary>
    [Theory]
    [InlineData("_IO_file_open")]
    [InlineData("_IO_file_doallocate")]
    [InlineData("_IO_file_underflow")]
    [InlineData("_IO_file_close_it")]
    public void Find_StdioFunctionOnTheWayToAWrapper_HasRulesMatchingReadelf(string function)
    {
        Requires.Linux();
        var table = LibcUnwindTable.Load("/proc/self/maps");
        var (start, end) = Symbol(table.LibraryPath!, function);
        var readelf = Binutils.ReadelfFrames.Of(table.LibraryPath!);

        var rules = LibcCallerRules.Find(table, LibcCallerRules.AtMost);

        var inFunction = rules.Where(r => r.ReturnAddress - table.LoadBias > start && r.ReturnAddress - table.LoadBias <= end).ToList();
        Assert.NotEmpty(inFunction);
        Assert.All(inFunction, r =>
        {
            var row = readelf.RowAt(r.ReturnAddress - table.LoadBias - 1);
            Assert.NotNull(row);
            Assert.Equal(
                ($"{(r.Rule.CfaFromRbp ? "rbp" : "rsp")}+{r.Rule.CfaOffset}", "c-8", r.Rule.RbpOffset == 0 ? "u" : $"c-{r.Rule.RbpOffset}"),
                (row.Value.Cfa, row.Value.ReturnAddress, row.Value.Rbp));
        });
    }

    [Fact]
    public void Find_AtMost_StopsTheSameSearchEarlier()
    {
        Requires.Linux();
        var table = LibcUnwindTable.Load("/proc/self/maps");

        var all = LibcCallerRules.Find(table, LibcCallerRules.AtMost);
        var few = LibcCallerRules.Find(table, 100);

        Assert.InRange(all.Count, 1_000, LibcCallerRules.AtMost - 1);
        Assert.Equal(all.Take(100), few);
    }

    [Fact]
    public void Find_TableOfNoLibrary_IsEmpty()
    {
        Assert.Empty(LibcCallerRules.Find(LibcUnwindTable.Empty("no libc"), LibcCallerRules.AtMost));
    }

    /// <summary>An exported function's address range in the file, as nm prints it.</summary>
    private static (ulong Start, ulong End) Symbol(string library, string name)
    {
        var line = Binutils.Run("nm", "-D", "--defined-only", "-S", library).First(l => l.EndsWith($" {name}@@GLIBC_2.2.5", StringComparison.Ordinal));
        var fields = line.Split(' ');
        var start = ulong.Parse(fields[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return (start, start + ulong.Parse(fields[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
    }
}
