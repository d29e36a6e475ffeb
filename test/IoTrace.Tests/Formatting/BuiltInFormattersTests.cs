using Xunit;

namespace IoTrace.Tests.Formatting;

public sealed class BuiltInFormattersTests
{
    private static readonly IoTraceReport s_report = new(
        Strategy.All,
        "inprocess",
        TimeSpan.FromMilliseconds(12.5),
        [
            new IoAggregate("openat", "Data/OrdersRepository.cs", 42, "Shop.Data.OrdersRepository.Open", 12, "/srv/orders.db", 1, 0, TimeSpan.FromTicks(210), TimeSpan.FromTicks(180)),
            new IoAggregate("recvfrom", "Data/OrdersRepository.cs", 88, "Shop.Data.OrdersRepository.Load", 13, "127.0.0.1:5432", 21, 56276, TimeSpan.FromTicks(10_530), TimeSpan.FromTicks(5_878)),
            new IoAggregate("sendto", "Data/OrdersRepository.cs", 88, "Shop.Data.OrdersRepository.Load", 13, "127.0.0.1:5432", 2, 178, TimeSpan.FromTicks(6_643), TimeSpan.FromTicks(347)),
            new IoAggregate("pread64", "Program.cs", 17, "Program.Main", 12, "/srv/orders.db", 3, 12288, TimeSpan.FromTicks(300), TimeSpan.FromTicks(290)),
        ]);

    private static readonly IoTraceReport s_summary = new(
        Strategy.Summary,
        "inprocess",
        TimeSpan.FromMilliseconds(3),
        [
            new IoAggregate("pread64", null, null, null, null, null, 4, 10000, TimeSpan.FromTicks(160), TimeSpan.FromTicks(150)),
            new IoAggregate("close", null, null, null, null, null, 1, 0, TimeSpan.FromTicks(20), TimeSpan.FromTicks(20)),
        ]);

    [Fact]
    public void Default_ContextStrategy_PrintsEveryFeatureOfEveryAggregateWithItsTarget() => AssertFormat("default", s_report, """
        File                      Line  Probe     FD  Feature  Value     Target
        Data/OrdersRepository.cs    42  openat    12  time     0.021 ms  /srv/orders.db
        Data/OrdersRepository.cs    42  openat    12  cpu      0.018 ms  /srv/orders.db
        Data/OrdersRepository.cs    42  openat    12  wait     0.003 ms  /srv/orders.db
        Data/OrdersRepository.cs    42  openat    12  calls    1         /srv/orders.db
        Data/OrdersRepository.cs    88  recvfrom  13  bytes    56276     127.0.0.1:5432
        Data/OrdersRepository.cs    88  recvfrom  13  time     1.053 ms  127.0.0.1:5432
        Data/OrdersRepository.cs    88  recvfrom  13  cpu      0.588 ms  127.0.0.1:5432
        Data/OrdersRepository.cs    88  recvfrom  13  wait     0.465 ms  127.0.0.1:5432
        Data/OrdersRepository.cs    88  recvfrom  13  calls    21        127.0.0.1:5432
        Data/OrdersRepository.cs    88  sendto    13  bytes    178       127.0.0.1:5432
        Data/OrdersRepository.cs    88  sendto    13  time     0.664 ms  127.0.0.1:5432
        Data/OrdersRepository.cs    88  sendto    13  cpu      0.035 ms  127.0.0.1:5432
        Data/OrdersRepository.cs    88  sendto    13  wait     0.630 ms  127.0.0.1:5432
        Data/OrdersRepository.cs    88  sendto    13  calls    2         127.0.0.1:5432
        Program.cs                  17  pread64   12  bytes    12288     /srv/orders.db
        Program.cs                  17  pread64   12  time     0.030 ms  /srv/orders.db
        Program.cs                  17  pread64   12  cpu      0.029 ms  /srv/orders.db
        Program.cs                  17  pread64   12  wait     0.001 ms  /srv/orders.db
        Program.cs                  17  pread64   12  calls    3         /srv/orders.db
        27 calls, 68742 bytes, 1.768 ms in IO, 0.670 ms on CPU, 1.099 ms waiting (All, inprocess, 12.500 ms traced)

        """);

    [Fact]
    public void Default_Summary_PrintsProbeRowsWithoutContextColumns() => AssertFormat("default", s_summary, """
        Probe    Feature  Value
        pread64  bytes    10000
        pread64  time     0.016 ms
        pread64  cpu      0.015 ms
        pread64  wait     0.001 ms
        pread64  calls    4
        close    time     0.002 ms
        close    cpu      0.002 ms
        close    wait     0.000 ms
        close    calls    1
        5 calls, 10000 bytes, 0.018 ms in IO, 0.017 ms on CPU, 0.001 ms waiting (Summary, inprocess, 3.000 ms traced)

        """);

    [Fact]
    public void Time_SortsBySlowestFirst() => AssertFormat("time", s_report, """
        File                      Line  Probe     FD  Feature  Value     Target
        Data/OrdersRepository.cs    88  recvfrom  13  time     1.053 ms  127.0.0.1:5432
        Data/OrdersRepository.cs    88  sendto    13  time     0.664 ms  127.0.0.1:5432
        Program.cs                  17  pread64   12  time     0.030 ms  /srv/orders.db
        Data/OrdersRepository.cs    42  openat    12  time     0.021 ms  /srv/orders.db
        27 calls, 68742 bytes, 1.768 ms in IO, 0.670 ms on CPU, 1.099 ms waiting (All, inprocess, 12.500 ms traced)

        """);

    [Fact]
    public void Calls_SortsByMostCallsFirst() => AssertFormat("calls", s_report, """
        File                      Line  Probe     FD  Feature  Value  Target
        Data/OrdersRepository.cs    88  recvfrom  13  calls    21     127.0.0.1:5432
        Program.cs                  17  pread64   12  calls    3      /srv/orders.db
        Data/OrdersRepository.cs    88  sendto    13  calls    2      127.0.0.1:5432
        Data/OrdersRepository.cs    42  openat    12  calls    1      /srv/orders.db
        27 calls, 68742 bytes, 1.768 ms in IO, 0.670 ms on CPU, 1.099 ms waiting (All, inprocess, 12.500 ms traced)

        """);

    [Fact]
    public void Cpu_SortsByMostCpuFirst() => AssertFormat("cpu", s_report, """
        File                      Line  Probe     FD  Feature  Value     Target
        Data/OrdersRepository.cs    88  recvfrom  13  cpu      0.588 ms  127.0.0.1:5432
        Data/OrdersRepository.cs    88  sendto    13  cpu      0.035 ms  127.0.0.1:5432
        Program.cs                  17  pread64   12  cpu      0.029 ms  /srv/orders.db
        Data/OrdersRepository.cs    42  openat    12  cpu      0.018 ms  /srv/orders.db
        27 calls, 68742 bytes, 1.768 ms in IO, 0.670 ms on CPU, 1.099 ms waiting (All, inprocess, 12.500 ms traced)

        """);

    [Fact]
    public void Wait_SortsByLongestWaitFirst() => AssertFormat("wait", s_report, """
        File                      Line  Probe     FD  Feature  Value     Target
        Data/OrdersRepository.cs    88  sendto    13  wait     0.630 ms  127.0.0.1:5432
        Data/OrdersRepository.cs    88  recvfrom  13  wait     0.465 ms  127.0.0.1:5432
        Data/OrdersRepository.cs    42  openat    12  wait     0.003 ms  /srv/orders.db
        Program.cs                  17  pread64   12  wait     0.001 ms  /srv/orders.db
        27 calls, 68742 bytes, 1.768 ms in IO, 0.670 ms on CPU, 1.099 ms waiting (All, inprocess, 12.500 ms traced)

        """);

    [Fact]
    public void Bytes_ListsOnlyTransfersLargestFirst() => AssertFormat("bytes", s_report, """
        File                      Line  Probe     FD  Feature  Value  Target
        Data/OrdersRepository.cs    88  recvfrom  13  bytes    56276  127.0.0.1:5432
        Program.cs                  17  pread64   12  bytes    12288  /srv/orders.db
        Data/OrdersRepository.cs    88  sendto    13  bytes    178    127.0.0.1:5432
        27 calls, 68742 bytes, 1.768 ms in IO, 0.670 ms on CPU, 1.099 ms waiting (All, inprocess, 12.500 ms traced)

        """);

    [Fact]
    public void Fds_RollsUpPerDescriptorAndTarget() => AssertFormat("fds", s_report, """
        FD  Target          Calls  Bytes      Time       CPU
        12  /srv/orders.db      4  12288  0.051 ms  0.047 ms
        13  127.0.0.1:5432     23  56454  1.717 ms  0.623 ms
        27 calls, 68742 bytes, 1.768 ms in IO, 0.670 ms on CPU, 1.099 ms waiting (All, inprocess, 12.500 ms traced)

        """);

    [Fact]
    public void Files_RollsUpPerSourceFile() => AssertFormat("files", s_report, """
        File                      Calls  Bytes      Time       CPU
        Data/OrdersRepository.cs     24  56454  1.738 ms  0.641 ms
        Program.cs                    3  12288  0.030 ms  0.029 ms
        27 calls, 68742 bytes, 1.768 ms in IO, 0.670 ms on CPU, 1.099 ms waiting (All, inprocess, 12.500 ms traced)

        """);

    [Fact]
    public void Default_FeaturesWithoutCpuAndTime_OmitsTheirRowsAndTotals()
    {
        var report = new IoTraceReport(Strategy.Summary, "inprocess", TimeSpan.FromMilliseconds(2), s_summary.Aggregates, features: IoTraceFeatures.Bytes);

        AssertFormat("default", report, """
            Probe    Feature  Value
            pread64  bytes    10000
            pread64  calls    4
            close    calls    1
            5 calls, 10000 bytes (Summary, inprocess, 2.000 ms traced)

            """);
    }

    [Fact]
    public void Default_IncompleteReport_SaysSoInTheFooter()
    {
        var report = new IoTraceReport(Strategy.Read, "none", TimeSpan.FromMilliseconds(1), [], isComplete: false);

        AssertFormat("default", report, """
            File  Line  Probe  FD  Feature  Value  Target
            0 calls, 0 bytes, 0.000 ms in IO, 0.000 ms on CPU, 0.000 ms waiting (Read, none, 1.000 ms traced); INCOMPLETE: the backend may have missed calls

            """);
    }

    [Fact]
    public void Default_SharedConnection_ItsRowsFollowTheTotalsWhichLeaveThemOut()
    {
        var report = new IoTraceReport(Strategy.All, "inprocess", TimeSpan.FromMilliseconds(2), [s_report.Aggregates[3]], features: IoTraceFeatures.Calls | IoTraceFeatures.Bytes,
            sharedAggregates: [new IoAggregate("sendto", null, null, "(shared connection)", 77, "127.0.0.1:6379", 5, 641, TimeSpan.Zero, TimeSpan.Zero, IoTargetKind.Socket)]);

        AssertFormat("default", report, """
            File        Line  Probe    FD  Feature  Value  Target
            Program.cs    17  pread64  12  bytes    12288  /srv/orders.db
            Program.cs    17  pread64  12  calls    3      /srv/orders.db
            3 calls, 12288 bytes (All, inprocess, 2.000 ms traced)
            Shared connections, their calls outside this request while it used them (not in the totals):
            File                 Line  Probe   FD  Feature  Value  Target
            (shared connection)        sendto  77  bytes    641    127.0.0.1:6379
            (shared connection)        sendto  77  calls    5      127.0.0.1:6379

            """);
        Assert.Equal(3, report.TotalCalls);
    }

    [Fact]
    public void Default_ClientActivity_CallsOnlyNeverATimeOfZero()
    {
        var report = new IoTraceReport(Strategy.All, "inprocess", TimeSpan.FromMilliseconds(2), [
            s_report.Aggregates[3],
            new IoAggregate("activity", "Program.cs", 20, "Program.Main", null, "orders publish 127.0.0.1:4222", 3, 0, TimeSpan.Zero, TimeSpan.Zero),
        ], features: IoTraceFeatures.Calls | IoTraceFeatures.Time);

        AssertFormat("default", report, """
            File        Line  Probe     FD  Feature  Value     Target
            Program.cs    17  pread64   12  time     0.030 ms  /srv/orders.db
            Program.cs    17  pread64   12  calls    3         /srv/orders.db
            Program.cs    20  activity      calls    3         orders publish 127.0.0.1:4222
            6 calls, 0.030 ms in IO (All, inprocess, 2.000 ms traced)

            """);
    }

    private static void AssertFormat(string formatter, IoTraceReport report, string expected)
    {
        using var writer = new StringWriter { NewLine = "\n" };
        IoTraceFormatters.Get(formatter)(writer, report);
        Assert.Equal(expected.ReplaceLineEndings("\n"), writer.ToString());
    }
}
