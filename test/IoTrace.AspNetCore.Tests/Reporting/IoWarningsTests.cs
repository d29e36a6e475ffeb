using IoTrace.AspNetCore.Reporting;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Reporting;

public sealed class IoWarningsTests
{
    private static readonly IoWarningThresholds s_defaults = new(CallBudget: 0, ByteBudget: 0, RepeatedOpens: 10, ChattyCalls: 100, ChattyBytes: 256, RoundTrips: 25);

    [Fact]
    public void Find_OverTheCallBudget_NamesTheLineThatMadeMost()
    {
        var report = Report(Row("pread64", 31, "/data/a", IoTargetKind.File, calls: 30, bytes: 300_000), Row("openat", 20, "/data/a", IoTargetKind.File, calls: 1));

        var warning = Assert.Single(IoWarnings.Find(report, s_defaults with { CallBudget = 20 }, endpoint: null)!);

        Assert.Equal(new IoWarning(IoWarningKind.CallBudget, 31, 20, null, "Orders.cs:31"), warning);
    }

    [Fact]
    public void Find_EndpointBudget_WinsOverTheAppsAndZeroKeepsTheApps()
    {
        var report = Report(Row("pread64", 31, "/data/a", IoTargetKind.File, calls: 30, bytes: 3_000));

        Assert.Null(IoWarnings.Find(report, s_defaults with { CallBudget = 20 }, new IoTraceAttribute { CallBudget = 40 }));
        Assert.Equal(IoWarningKind.CallBudget, Assert.Single(IoWarnings.Find(report, s_defaults with { CallBudget = 20 }, new IoTraceAttribute { ByteBudget = 10_000 })!).Kind);
        Assert.Equal(new IoWarning(IoWarningKind.ByteBudget, 3_000, 2_000, null, "Orders.cs:31"), Assert.Single(IoWarnings.Find(report, s_defaults, new IoTraceAttribute { ByteBudget = 2_000 })!));
    }

    [Fact]
    public void Find_SameFileOpenedAgainAndAgain_NamesTheFileAndTheLine()
    {
        var report = Report(Row("openat", 12, "/etc/app.json", IoTargetKind.File, calls: 9), Row("openat", 14, "/etc/app.json", IoTargetKind.File, calls: 3), Row("openat", 15, "/etc/other.json", IoTargetKind.File, calls: 9));

        Assert.Equal([new IoWarning(IoWarningKind.RepeatedOpens, 12, 10, "/etc/app.json", "Orders.cs:12")], IoWarnings.Find(report, s_defaults, endpoint: null));
    }

    [Fact]
    public void Find_ManySmallReadsOnOneFile_IsChattyAndLargeOnesAreNot()
    {
        var small = Report(Row("read", 40, "/data/log", IoTargetKind.File, calls: 150, bytes: 150 * 100));
        var large = Report(Row("read", 40, "/data/log", IoTargetKind.File, calls: 150, bytes: 150 * 4096));

        Assert.Equal([new IoWarning(IoWarningKind.ChattyIo, 150, 100, "/data/log", "Orders.cs:40", AverageBytes: 100)], IoWarnings.Find(small, s_defaults, endpoint: null));
        Assert.Null(IoWarnings.Find(large, s_defaults, endpoint: null));
    }

    [Fact]
    public void Find_ManyWritesToOnePeer_IsRepeatedRoundTrips()
    {
        var report = Report(Row("sendto", 55, "127.0.0.1:5432", IoTargetKind.Socket, calls: 30, bytes: 30 * 4096), Row("recvfrom", 55, "127.0.0.1:5432", IoTargetKind.Socket, calls: 30, bytes: 30 * 4096));

        Assert.Equal([new IoWarning(IoWarningKind.RoundTrips, 30, 25, "127.0.0.1:5432", "Orders.cs:55")], IoWarnings.Find(report, s_defaults, endpoint: null));
    }

    [Fact]
    public void Find_EachHabitOverItsThresholdOnlyAcrossTargets_FindsNothing()
    {
        var report = Report(
            Row("openat", 12, "/etc/a.json", IoTargetKind.File, calls: 6),
            Row("openat", 12, "/etc/b.json", IoTargetKind.File, calls: 6),
            Row("read", 40, "/data/a", IoTargetKind.File, calls: 60, bytes: 60 * 10),
            Row("read", 40, "/data/b", IoTargetKind.File, calls: 60, bytes: 60 * 10),
            Row("sendto", 55, "127.0.0.1:5432", IoTargetKind.Socket, calls: 20, bytes: 20 * 4096),
            Row("sendto", 55, "127.0.0.1:6379", IoTargetKind.Socket, calls: 20, bytes: 20 * 4096));

        Assert.Null(IoWarnings.Find(report, s_defaults, endpoint: null));
    }

    [Fact]
    public void Find_ThresholdsOff_FindsNothing()
    {
        var report = Report(Row("openat", 12, "/etc/app.json", IoTargetKind.File, calls: 50), Row("sendto", 55, "127.0.0.1:5432", IoTargetKind.Socket, calls: 500, bytes: 500));

        Assert.Null(IoWarnings.Find(report, new IoWarningThresholds(0, 0, 0, 0, 0, 0), endpoint: null));
    }

    [Fact]
    public void Find_SummaryReport_OnlyTheBudgets()
    {
        var report = new IoTraceReport(Strategy.Summary, "inprocess", TimeSpan.Zero, [new IoAggregate("openat", null, null, null, null, null, 500, 0, TimeSpan.Zero, TimeSpan.Zero)]);

        Assert.Equal([new IoWarning(IoWarningKind.CallBudget, 500, 100, null, "openat")], IoWarnings.Find(report, s_defaults with { CallBudget = 100 }, endpoint: null));
    }

    private static IoTraceReport Report(params IoAggregate[] rows) => new(Strategy.All, "inprocess", TimeSpan.Zero, rows);

    private static IoAggregate Row(string probe, int line, string target, IoTargetKind kind, long calls, long bytes = 0) =>
        new(probe, "Orders.cs", line, "Orders.Handle", 9, target, calls, bytes, TimeSpan.Zero, TimeSpan.Zero, kind);
}
