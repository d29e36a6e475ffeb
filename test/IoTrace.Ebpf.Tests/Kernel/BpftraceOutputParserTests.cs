using System.Globalization;
using IoTrace.Ebpf.Kernel;
using Xunit;
using IoTrace.Probes;

namespace IoTrace.Ebpf.Tests.Kernel;

/// <summary>bpftrace's JSON lines, as it prints them (<c>-f json</c>), into flushes.</summary>
public sealed class BpftraceOutputParserTests
{
    private readonly BpftraceOutputParser _parser = new();
    private readonly List<KernelFlush> _flushes = [];

    public BpftraceOutputParserTests() => _parser.Flushed += _flushes.Add;

    [Fact]
    public void Parse_SummaryFlush_CallsAndWallFromStatsBytesFromSum()
    {
        var pread = SyscallTable.X64.Single(s => s.Number == 17).Packed & 0xff;

        Parse(
            """{"type": "printf", "data": "F 7 123456\n"}""",
            Printed("stats", BpftraceScript.CallsMap, 1, """{"42,PROBE": {"count": 3, "average": 500, "total": 1500}}""").Replace("PROBE", pread.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal),
            Printed("map", BpftraceScript.BytesMap, 1, """{"42,PROBE": 12345}""").Replace("PROBE", pread.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal),
            Printed("map", BpftraceScript.EventsMap, 1, "3"),
            """{"type": "printf", "data": "E\n"}""");

        var flush = Assert.Single(_flushes);
        Assert.Equal((7L, 123456L, 3L), (flush.Sequence, flush.TimestampNanoseconds, flush.Events));
        var aggregate = Assert.Single(flush.Aggregates.Values);
        Assert.Equal(
            (42L, "pread64", -1, 3L, 1500L, 12345L, 0L),
            (aggregate.Trace, ProbeCatalog.Name(aggregate.Probe), aggregate.Fd, aggregate.Calls, aggregate.WallNanoseconds, aggregate.Bytes, aggregate.CpuNanoseconds));
    }

    [Fact]
    public void Parse_ContextFlush_KeyFdGenerationAndStackFrames()
    {
        var read = SyscallTable.X64.Single(s => s.Number == 0).Packed & 0xff;

        Parse(
            """{"type": "printf", "data": "F 1 0\n"}""",
            Printed("stats", BpftraceScript.ContextCallsMap, 0, """{"5,PROBE,9,2,-77": {"count": 2, "average": 10, "total": 20}}""").Replace("PROBE", read.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal),
            Printed("map", BpftraceScript.ContextCpuMap, 0, """{"5,PROBE,9,2,-77": 15}""").Replace("PROBE", read.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal),
            Printed("map", BpftraceScript.StackMap, 0, """{"-77": [4096, 8192, 0, 0]}"""),
            Printed("map", BpftraceScript.TargetMap, 0, """{"5,9,2": "/srv/data.bin"}"""),
            """{"type": "printf", "data": "E\n"}""");

        var flush = Assert.Single(_flushes);
        var aggregate = Assert.Single(flush.Aggregates.Values);
        Assert.Equal((5L, "read", 9, 2L, -77L, 2L, 20L, 15L), (aggregate.Trace, ProbeCatalog.Name(aggregate.Probe), aggregate.Fd, aggregate.Generation, aggregate.StackHash, aggregate.Calls, aggregate.WallNanoseconds, aggregate.CpuNanoseconds));
        Assert.Equal([4096UL, 8192UL], aggregate.Stack);
        Assert.Equal("/srv/data.bin", flush.Targets[(5, 9, 2)]);
    }

    [Fact]
    public void Parse_OpenedPathMap_LinksTheFdToItsPathId()
    {
        Parse(
            """{"type": "printf", "data": "F 1 0\n"}""",
            Printed("map", BpftraceScript.TargetMap, 0, """{"5,-4097,0": "/srv/data.bin"}"""),
            Printed("map", BpftraceScript.OpenedPathMap, 0, """{"5,9,2": 4096}"""),
            """{"type": "printf", "data": "E\n"}""");

        var flush = Assert.Single(_flushes);
        Assert.Equal(("/srv/data.bin", 4096L), (flush.Targets[(5, -4097, 0)], flush.OpenedPaths[(5, 9, 2)]));
    }

    [Fact]
    public void Parse_MapsOutsideAFlush_AreIgnored()
    {
        Parse(Printed("stats", BpftraceScript.CallsMap, 0, """{"1,1": {"count": 1, "average": 1, "total": 1}}"""), """{"type": "printf", "data": "E\n"}""");

        Assert.Empty(_flushes);
    }

    /// <summary>A map as bpftrace prints it: {"type": type, "data": {"@name" and the buffer's digit: value}}.</summary>
    private static string Printed(string type, string map, int buffer, string value) =>
        "{\"type\": \"" + type + "\", \"data\": {\"@" + map + buffer.ToString(CultureInfo.InvariantCulture) + "\": " + value + "}}";

    private void Parse(params string[] lines)
    {
        foreach (var line in lines)
        {
            _parser.Parse(line);
        }
    }
}
