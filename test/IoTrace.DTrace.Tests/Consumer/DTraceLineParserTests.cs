using IoTrace.DTrace.Consumer;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.Consumer;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DTraceLineParserTests
{
    private readonly DTraceLineParser _parser = new();

    [Fact]
    public void ParseCall_OpenWithSpacesInItsPath_KeepsTheWholePathAndTheFields()
    {
        Requires.Linux();

        var call = _parser.ParseCall(Line('P', "openat", fd: 35, generation: 4, frames: [0x7f0000001000, 0x7f0000002000, 0x7f0000003000], rest: "/tmp/a b/c d.txt"));

        Assert.NotNull(call);
        Assert.Equal((7L, "openat", 35, 4L, 0L, 1_234L, "/tmp/a b/c d.txt"), (call.Trace, call.Syscall.Name, call.Fd, call.Generation, call.Bytes, call.WallNanoseconds, call.Target));
        Assert.Equal([0x7f0000001000UL, 0x7f0000002000, 0x7f0000003000], call.Stack);
    }

    [Fact]
    public void ParseCall_InheritedLine_ItsNumber()
    {
        Requires.Linux();

        var call = _parser.ParseCall(Line('C', "pread64", fd: 35, frames: [0xa000], site: 12));

        Assert.Equal((7L, 12L, "pread64"), (call!.Trace, call.InheritedSiteId, call.Syscall.Name));
    }

    [Fact]
    public void ParseCall_PathCallWithAnEmptyPath_EmptyTarget()
    {
        Requires.Linux();

        var call = _parser.ParseCall(Line('P', "newfstatat", fd: 5, frames: [0xa000], rest: string.Empty));

        Assert.Equal((5, string.Empty), (call!.Fd, call.Target));
    }

    [Fact]
    public void ParseCall_CallCountedUnderAnotherProbe_MapsToThatProbe()
    {
        Requires.Linux();

        var call = _parser.ParseCall(Line('C', "ppoll", fd: 5, frames: []));

        Assert.Equal(("ppoll", "poll", (string?)null), (call!.Syscall.Name, call.Syscall.Probe, call.Target));
    }

    [Theory]
    [InlineData("C 7 0 1 35 0 0 100")]
    [InlineData("C 7 0 999 35 0 0 100 a000")]
    [InlineData("X 7 0 1 35 0 0 100")]
    [InlineData("")]
    public void ParseCall_NotACallOrCutShort_Null(string line)
    {
        Requires.Linux();

        Assert.Null(_parser.ParseCall(line));
    }

    [Fact]
    public void ParseCall_NoRuleForTheWrapper_SkipsItsEmptyFrameAndStopsAtTheFirstOtherZero()
    {
        Requires.Linux();

        // pc, then r0 = 0 (no libc rule: the walk starts from rbp), then two return addresses, then the end of the walk.
        var call = _parser.ParseCall(Line('C', "pread64", fd: 35, frames: [0xa000, 0, 0xb000, 0xc000, 0, 0xd000]));

        Assert.Equal([0xa000UL, 0xb000, 0xc000], call!.Stack);
    }

    /// <summary>A call without context: the instruction pointer, the wrapper's return address (none here) and the first frame past libc.</summary>
    [Fact]
    public void ParseCall_ShortLineWithoutContext_ItsThreeFrames()
    {
        Requires.Linux();

        var call = _parser.ParseCall($"S 7 0 {Call("read")} -1 0 100 1234 a000 0 b000");

        Assert.NotNull(call);
        Assert.Equal((7L, "read", -1, 100L, 1_234L, (string?)null), (call.Trace, call.Syscall.Name, call.Fd, call.Bytes, call.WallNanoseconds, call.Target));
        Assert.Equal([0xa000UL, 0xb000], call.Stack);
        Assert.Null(_parser.ParseCall($"S 7 0 {Call("read")} -1 0 100 1234 a000 0"));
    }

    [Fact]
    public void ParseCall_SameStackTwice_OneArray()
    {
        Requires.Linux();

        var first = _parser.ParseCall(Line('C', "read", fd: 3, frames: [0xa000, 0xb000]));
        var second = _parser.ParseCall(Line('C', "write", fd: 4, frames: [0xa000, 0xb000]));
        var withEmptyPath = _parser.ParseCall(Line('P', "newfstatat", fd: 5, frames: [0xa000, 0xb000], rest: string.Empty));

        // The attributor caches lines by the stack array's identity.
        Assert.Same(first!.Stack, second!.Stack);
        Assert.Same(first.Stack, withEmptyPath!.Stack);
    }

    [Fact]
    public void TryParsePeer_ConnectToIPv4_NamesThePeerFromItsAddressWords()
    {
        Requires.Linux();

        // sockaddr_in for 127.0.0.1:8080, little-endian words: family 2, port 0x1f90 in network order, address 127.0.0.1.
        Assert.True(DTraceLineParser.TryParsePeer("N 7 12 3 100007f901f0002 0 0", out var key, out var peer));

        Assert.Equal(((7L, 12, 3L), "127.0.0.1:8080"), (key, peer));
    }

    [Fact]
    public void TryParseMarker_MarkerLine_CpuAndSequence()
    {
        Requires.Linux();

        Assert.True(DTraceLineParser.TryParseMarker("F 1 42", out var cpu, out var sequence));
        Assert.Equal((1, 42L), (cpu, sequence));
        Assert.False(DTraceLineParser.TryParseMarker("F 1", out _, out _));
    }

    private static int Call(string name) => LinuxSyscalls.X64.ToList().FindIndex(s => s.Name == name);

    /// <summary>A call's line as the script prints it, with the walk's frames padded with zeros.</summary>
    private static string Line(char kind, string name, int fd, ulong[] frames, long generation = 0, string? rest = null, long site = 0)
    {
        var padded = frames.Concat(Enumerable.Repeat(0UL, DTraceScript.Frames + 2 - frames.Length)).Select(f => f.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        var line = $"{kind} 7 {site} {Call(name)} {fd} {generation} 0 1234 {string.Join(' ', padded)}";
        return rest is null ? line : $"{line} {rest}";
    }
}
