using IoTrace.DTrace.Consumer;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.Consumer;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DTraceLineParserTests
{
    [Fact]
    public void ParseCall_OpenWithSpacesInItsPath_KeepsTheWholePathAndTheFields()
    {
        Requires.Linux();

        var call = DTraceLineParser.ParseCall($"P 7 {Call("openat")} 35 4 abc123 0 1234 /tmp/a b/c d.txt");

        Assert.NotNull(call);
        Assert.Equal((7L, "openat", 35, 4L, 0xabc123UL, 0L, 1_234L, "/tmp/a b/c d.txt"), (call.Trace, call.Syscall.Name, call.Fd, call.Generation, call.StackHash, call.Bytes, call.WallNanoseconds, call.Target));
    }

    [Fact]
    public void ParseCall_PathCallWithAnEmptyPath_EmptyTarget()
    {
        Requires.Linux();

        var call = DTraceLineParser.ParseCall($"P 7 {Call("newfstatat")} 5 0 abc 0 100 ");

        Assert.Equal((5, string.Empty), (call!.Fd, call.Target));
    }

    [Fact]
    public void ParseCall_KernelNameOfTheCall_MapsToTheProbeStraceNames()
    {
        Requires.Linux();

        var call = DTraceLineParser.ParseCall($"C 7 {Call("newfstat")} 5 0 0 0 100");

        Assert.Equal(("fstat", (string?)null), (call!.Syscall.Probe, call.Target));
    }

    [Theory]
    [InlineData("C 7 1 35 0 0 0")]
    [InlineData("C 7 999 35 0 0 0 100")]
    [InlineData("A 7 1 35 0 0 0 100")]
    [InlineData("")]
    public void ParseCall_NotACallOrCutShort_Null(string line)
    {
        Requires.Linux();

        Assert.Null(DTraceLineParser.ParseCall(line));
    }

    [Fact]
    public void TryParseStack_NoRuleForTheWrapper_SkipsItsEmptyFrameAndStopsAtTheFirstOtherZero()
    {
        Requires.Linux();

        // pc, then r0 = 0 (no libc rule: the walk starts from rbp), then two return addresses, then the end of the walk.
        Assert.True(DTraceLineParser.TryParseStack(StackLine(0xabc, [0xa000, 0, 0xb000, 0xc000, 0, 0xd000]), out var hash, out var stack));

        Assert.Equal(0xabcUL, hash);
        Assert.Equal([0xa000UL, 0xb000, 0xc000], stack);
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

    private static int Call(string tracepoint) => LinuxSyscalls.X64.ToList().FindIndex(s => s.TracepointName == tracepoint);

    /// <summary>A stack line as the script prints it, with the walk's frames padded with zeros.</summary>
    private static string StackLine(ulong hash, ulong[] frames) =>
        $"K {hash:x} {string.Join(' ', frames.Concat(Enumerable.Repeat(0UL, DTraceScript.Frames + 2 - frames.Length)).Select(f => f.ToString("x", System.Globalization.CultureInfo.InvariantCulture)))}";
}
