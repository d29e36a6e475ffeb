using IoTrace.AspNetCore.Logging;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Logging;

public sealed class IoTraceRequestLogTests
{
    private static readonly IoTraceReport s_report = new(
        Strategy.Read,
        "inprocess",
        TimeSpan.FromMilliseconds(12.5),
        [
            new IoAggregate("pread64", "Program.cs", 12, "App.Get", 7, "/data/a.bin", 2, 8192, TimeSpan.FromMilliseconds(0.25), TimeSpan.FromMilliseconds(0.125)),
            new IoAggregate("recvfrom", null, null, null, 9, "127.0.0.1:5000", 1, 100, TimeSpan.FromMilliseconds(0.5), TimeSpan.FromMilliseconds(0.25)),
        ]);

    [Fact]
    public void Indexer_EveryField_HoldsTheRequestAndTheReport()
    {
        var log = new IoTraceRequestLog("GET", "/files/7", "/files/{id}", 200, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", s_report, "the table");

        Assert.Equal(15, log.Count);
        Assert.Equal(
            new KeyValuePair<string, object?>[]
            {
                new("Method", "GET"),
                new("Path", "/files/7"),
                new("Route", "/files/{id}"),
                new("StatusCode", 200),
                new("TraceId", "4bf92f3577b34da6a3ce929d0e0e4736"),
                new("SpanId", "00f067aa0ba902b7"),
                new("Strategy", "Read"),
                new("Backend", "inprocess"),
                new("Calls", 3L),
                new("Bytes", 8292L),
                new("TimeMs", 0.75),
                new("CpuMs", 0.375),
                new("ElapsedMs", 12.5),
                new("IsComplete", true),
                new("Aggregates", AggregatesJson.Write(s_report.Aggregates)),
            },
            log);
        Assert.Throws<ArgumentOutOfRangeException>(() => log[15]);
    }

    [Fact]
    public void Indexer_ReportWithASharedConnection_OneFieldMoreWithItsRows()
    {
        IoAggregate[] shared = [new("sendto", null, null, "(shared connection)", 77, "127.0.0.1:6379", 5, 641, TimeSpan.Zero, TimeSpan.Zero, IoTargetKind.Socket)];
        var report = new IoTraceReport(Strategy.All, "inprocess", TimeSpan.FromMilliseconds(1), s_report.Aggregates, sharedAggregates: shared);

        var log = new IoTraceRequestLog("GET", "/", null, 200, null, null, report, "the table");

        Assert.Equal(16, log.Count);
        Assert.Equal(new KeyValuePair<string, object?>("SharedAggregates", AggregatesJson.Write(shared)), log[15]);
        Assert.Equal(3L, log[8].Value);
    }

    [Fact]
    public void Formatter_Log_IsTheMessage()
    {
        var log = new IoTraceRequestLog("GET", "/", null, 500, null, null, s_report, "File  Line  Probe");

        Assert.Equal("File  Line  Probe", IoTraceRequestLog.Formatter(log, null));
        Assert.Equal("File  Line  Probe", log.ToString());
    }

    [Fact]
    public void Message_ReadTwice_RendersOnceWithTheGivenFormatter()
    {
        var renders = 0;
        IoTraceFormatter formatter = (stream, trace) => stream.Write(trace.TotalCalls);
        var log = new IoTraceRequestLog("GET", "/", null, 200, null, null, s_report, formatter, (f, report) =>
        {
            renders++;
            using var writer = new StringWriter();
            f(writer, report);
            return writer.ToString();
        });

        Assert.Equal("3", IoTraceRequestLog.Formatter(log, null));
        Assert.Equal("3", log.ToString());
        Assert.Equal(1, renders);
    }

    [Fact]
    public void Indexer_EveryFieldWithoutTheMessage_NeverRenders()
    {
        var log = new IoTraceRequestLog("GET", "/", null, 200, null, null, s_report, IoTraceFormatters.Get("default"), (_, _) => throw new InvalidOperationException("rendered"));

        var fields = log.ToList();

        Assert.Equal(15, fields.Count);
    }
}
