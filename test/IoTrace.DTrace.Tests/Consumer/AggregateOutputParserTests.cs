using IoTrace.DTrace.Consumer;
using Xunit;

namespace IoTrace.DTrace.Tests.Consumer;

public sealed class AggregateOutputParserTests
{
    /// <summary>
    /// <c>linux-x64-syscall-provider.txt</c>: DTrace for Linux 2.0.1.1, kernel 6.18, x64, recorded 2026-12-07 with
    /// <c>IOTRACE_DTRACE_RECORDING=FILE</c> from <see cref="Script.SyscallProviderScriptRunTests"/>: a trace with context
    /// read 10 blocks of 1,000 B, one without read 3, then the test asked for a flush. A change of the script's output format must record it again.
    /// </summary>
    [Fact]
    public void Add_LinuxRecording_EveryLineReadIntoItsFlush()
    {
        var parser = new AggregateOutputParser();
        var flushes = new List<AggregateFlush>();

        foreach (var line in File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Consumer", "Recordings", "linux-x64-syscall-provider.txt")))
        {
            if (parser.Add(line) is { } flush)
            {
                flushes.Add(flush);
            }
        }

        Assert.True(parser.IsReady);
        Assert.Equal(0, parser.Unrecognized);
        var rows = Assert.Single(flushes).Rows;
        Assert.Equal(2, rows.Count);
        var summary = rows[0];
        Assert.Equal((2L, "pread64", -1, 3L, 3000L, (long?)null, 0), (summary.Trace, summary.Call, summary.Fd, summary.Calls, summary.Bytes, summary.CpuNanoseconds, summary.Stack.Length));
        var context = rows[1];
        Assert.Equal((1L, "pread64", 118, 1L, 10L, 10000L, (string?)null, 14), (context.Trace, context.Call, context.Fd, context.Generation, context.Calls, context.Bytes, context.Path, context.Stack.Length));
        Assert.Equal(0x7f459f434417UL, context.Stack[0]);
    }

    /// <summary>
    /// The shape other platforms print: CPU measured, a path with spaces, frames dtrace named by symbol (native code,
    /// left out) among the addresses of jitted code, a connect's peer.
    /// </summary>
    [Fact]
    public void Add_MacOSShapedOutput_PathCpuAddressesAndPeer()
    {
        var parser = new AggregateOutputParser();
        string[] lines =
        [
            "R",
            "S 7 read_nocancel 2 600 9000 4000",
            "C 8 open_nocancel 12 3 1 0 25000 11000 /Users/me/My Files/a.json",
            "              libsystem_kernel.dylib`__open_nocancel+0xa",
            "              libSystem.Native.dylib`SystemNative_Open+0x2c",
            "              0x1182a4c31",
            "              0x1182a3e10",
            "",
            "N 8 13 0 100007f901f0210 0 0",
            "F",
        ];

        var flush = AddAll(parser, lines);

        Assert.NotNull(flush);
        Assert.Equal(0, parser.Unrecognized);
        Assert.Equal(2, flush.Rows.Count);
        Assert.Equal((7L, "read_nocancel", 2L, 600L, 9000L, (long?)4000L), (flush.Rows[0].Trace, flush.Rows[0].Call, flush.Rows[0].Calls, flush.Rows[0].Bytes, flush.Rows[0].WallNanoseconds, flush.Rows[0].CpuNanoseconds));
        var open = flush.Rows[1];
        Assert.Equal((8L, "open_nocancel", 12, 3L, "/Users/me/My Files/a.json", (long?)11000L), (open.Trace, open.Call, open.Fd, open.Generation, open.Path, open.CpuNanoseconds));
        Assert.Equal([0x1182a4c31UL, 0x1182a3e10UL], open.Stack);
        var peer = Assert.Single(flush.Peers);
        Assert.Equal((8L, 13, 0L), (peer.Trace, peer.Fd, peer.Generation));
        Assert.Equal([0x100007f901f0210UL, 0UL, 0UL], peer.Address);
    }

    /// <summary>
    /// DTrace for Linux names the mapping of a frame it has no symbol for: jitted code (<c>memfd:doublemapper</c>, with
    /// W^X on) and ReadyToRun code (its assembly's file) print as <c>module`0xaddress</c>, kept as the address; a frame
    /// with a symbol is native code, left out (lines as the backend recorded them running that script).
    /// </summary>
    [Fact]
    public void Add_FramesInNamedMappingsWithoutSymbols_KeptAsAddresses()
    {
        var parser = new AggregateOutputParser();
        string[] lines =
        [
            "C 1 flock 90 3 1 0 13746 - ",
            "              libc.so.6`flock+0x7",
            "              System.Private.CoreLib.dll`0x7fb4e9571667",
            "              memfd:doublemapper`0x7fb4ebb859d9",
            "              libcoreclr.so`0x7fb5689fb3cc",
            "",
            "F",
        ];

        var flush = AddAll(parser, lines);

        Assert.NotNull(flush);
        Assert.Equal(0, parser.Unrecognized);
        Assert.Equal([0x7fb4e9571667UL, 0x7fb4ebb859d9UL, 0x7fb5689fb3ccUL], Assert.Single(flush.Rows).Stack);
    }

    /// <summary>A row's stack ends at the next record even without its blank line; a line of none of the script's is counted, not read.</summary>
    [Fact]
    public void Add_CutShortAndForeignLines_CountedAsUnrecognized()
    {
        var parser = new AggregateOutputParser();

        Assert.Null(parser.Add("C 1 read 3 0 1 10 100 -"));
        Assert.Null(parser.Add("0x10"));
        Assert.Null(parser.Add("S 1 read 1 10"));
        Assert.Null(parser.Add("dtrace: 12 drops on CPU 1"));
        var flush = parser.Add("F");

        Assert.NotNull(flush);
        Assert.Equal(2, parser.Unrecognized);
        var row = Assert.Single(flush.Rows);
        Assert.Equal([0x10UL], row.Stack);
    }

    /// <summary>Adds every line; what the last one returned (a flush, if it ended one).</summary>
    private static AggregateFlush? AddAll(AggregateOutputParser parser, string[] lines)
    {
        AggregateFlush? flush = null;
        foreach (var line in lines)
        {
            flush = parser.Add(line);
        }

        return flush;
    }
}
