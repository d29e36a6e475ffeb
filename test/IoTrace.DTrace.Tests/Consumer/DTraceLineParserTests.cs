using IoTrace.DTrace.Consumer;
using IoTrace.DTrace.Script;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.Consumer;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DTraceLineParserTests
{
    private readonly DTraceLineParser _parser = new();

    [Fact]
    public void ParseRecord_OpenWithSpacesInItsPath_KeepsTheWholePathAndTheFields()
    {
        Requires.Linux();

        var record = _parser.ParseRecord(Line('P', "openat", arg0: -100, result: 35, resultGeneration: 4, frames: [0x7f0000001000, 0x7f0000002000, 0x7f0000003000], rest: "/tmp/a b/c d.txt"));

        Assert.NotNull(record);
        Assert.Equal((7L, "openat", -100L, 35L, 4L, 1_234L, "/tmp/a b/c d.txt"), (record.Trace, record.Syscall.Name, record.Arg0, record.Result, record.ResultGeneration, record.WallNanoseconds, record.Target));
        Assert.Equal([0x7f0000001000UL, 0x7f0000002000, 0x7f0000003000], record.Stack);
    }

    [Fact]
    public void ParseRecord_NoRuleForTheWrapper_SkipsItsEmptyFrameAndStopsAtTheFirstOtherZero()
    {
        Requires.Linux();

        // pc, then r0 = 0 (no libc rule: the walk starts from rbp), then two return addresses, then the end of the walk.
        var record = _parser.ParseRecord(Line('C', "pread64", arg0: 35, result: 100, frames: [0xa000, 0, 0xb000, 0xc000, 0, 0xd000]));

        Assert.Equal([0xa000UL, 0xb000, 0xc000], record!.Stack);
        Assert.Null(record.Target);
    }

    [Fact]
    public void ParseRecord_SameStackTwice_OneArray()
    {
        Requires.Linux();

        var first = _parser.ParseRecord(Line('C', "read", arg0: 3, result: 1, frames: [0xa000, 0xb000]));
        var second = _parser.ParseRecord(Line('C', "write", arg0: 4, result: 1, frames: [0xa000, 0xb000]));

        // The attributor caches lines by the stack array's identity.
        Assert.Same(first!.Stack, second!.Stack);
    }

    [Fact]
    public void ParseRecord_Connect_NamesThePeerFromItsAddressWords()
    {
        Requires.Linux();

        // sockaddr_in for 127.0.0.1:8080, little-endian words: family 2, port 0x1f90 in network order, address 127.0.0.1.
        var record = _parser.ParseRecord(Line('S', "connect", arg0: 12, result: -115, frames: [0xa000], rest: "100007f901f0002 0 0"));

        Assert.Equal("127.0.0.1:8080", record!.Target);
    }

    [Fact]
    public void ParseRecord_KernelNameOfTheCall_MapsToTheProbeStraceNames()
    {
        Requires.Linux();

        var record = _parser.ParseRecord(Line('C', "newfstat", arg0: 5, result: 0, frames: [0xa000]));

        Assert.Equal("fstat", record!.Syscall.Probe);
    }

    [Theory]
    [InlineData("C 0 7 pread64 35 1 100")]
    [InlineData("C 0 7 nosuchcall 35 1 100 1 1 1000 a000")]
    [InlineData("X 0 7 pread64")]
    [InlineData("")]
    public void ParseRecord_NotARecordOrCutShort_Null(string line)
    {
        Requires.Linux();

        Assert.Null(_parser.ParseRecord(line));
    }

    [Fact]
    public void TryParseMarker_MarkerLine_CpuAndSequence()
    {
        Assert.True(DTraceLineParser.TryParseMarker("F 1 42", out var cpu, out var sequence));
        Assert.Equal((1, 42L), (cpu, sequence));
        Assert.False(DTraceLineParser.TryParseMarker("F 1", out _, out _));
    }

    /// <summary>A record line as the script prints it, with the walk's frames padded with zeros.</summary>
    private static string Line(char kind, string syscall, long arg0, long result, ulong[] frames, long resultGeneration = 0, string? rest = null)
    {
        var padded = frames.Concat(Enumerable.Repeat(0UL, DTraceScript.Frames + 2 - frames.Length)).Select(f => f.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        var line = $"{kind} 0 7 {syscall} {arg0} 0 {result} {resultGeneration} 1234 {string.Join(' ', padded)}";
        return rest is null ? line : $"{line} {rest}";
    }
}
