using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Testing.Tests;

public sealed class IoBudgetTests
{
    private static readonly IoTraceReport s_report = new(Strategy.All, "inprocess", TimeSpan.FromMilliseconds(3),
    [
        Row("pread64", "Orders/OrdersController.cs", 31, "/data/orders.db", IoTargetKind.File, calls: 8, bytes: 32_768),
        Row("pread64", "Orders/OrdersController.cs", 40, "/data/orders.db", IoTargetKind.File, calls: 2, bytes: 8_192),
        Row("recvfrom", "Orders/PriceClient.cs", 12, "127.0.0.1:5000", IoTargetKind.Socket, calls: 3, bytes: 900),
        Row("sendto", "Orders/PriceClient.cs", 12, "127.0.0.1:5000", IoTargetKind.Socket, calls: 1, bytes: 120),
    ]);

    [Fact]
    public void Check_WithinEveryLimit_DoesNotThrow()
    {
        var budget = new IoBudget().MaxCalls(14).MaxBytes(41_980).MaxCalls("pread64", 10).MaxCalls(IoTargetKind.Socket, 4).MaxCallsAt("OrdersController.cs", 31, 8);

        budget.Check(s_report);

        Assert.Empty(budget.Exceeded(s_report));
    }

    [Fact]
    public void Check_OverLimits_ThrowsNamingEachLimitAndTheLineThatSpentMostWithTheTable()
    {
        var budget = new IoBudget().MaxCalls(10).MaxCalls("pread64", 4).MaxBytes(IoTargetKind.Socket, 1_000).MaxCalls("openat", 0);

        var exception = Assert.Throws<IoBudgetExceededException>(() => budget.Check(s_report));

        Assert.Equal(
        [
            "calls: 14 > 10; most at Orders/OrdersController.cs:31 (8 calls)",
            "pread64 calls: 10 > 4; most at Orders/OrdersController.cs:31 (8 calls)",
            "socket bytes: 1020 > 1000; most at Orders/PriceClient.cs:12 (1020 bytes)",
        ], exception.Exceeded);
        Assert.Equal(
            "The IO budget was exceeded:\n" + string.Concat(exception.Exceeded.Select(e => $"  {e}\n")) + "\n" + s_report.ToString(IoTraceFormatters.DefaultName),
            exception.Message.ReplaceLineEndings("\n"));
        Assert.Same(s_report, exception.Report);
    }

    [Theory]
    [InlineData("OrdersController.cs", 31, 8)]
    [InlineData("Orders/OrdersController.cs", 31, 8)]
    [InlineData("OrdersController.cs", 40, 2)]
    [InlineData("ersController.cs", 31, 0)]
    [InlineData("PriceClient.cs", 12, 4)]
    public void MaxCallsAt_File_MatchesItsNameOrTheEndOfItsPath(string file, int line, long calls)
    {
        var budget = new IoBudget().MaxCallsAt(file, line, 0);

        var exceeded = budget.Exceeded(s_report);

        string[] expected = calls == 0 ? [] : [$"calls at {file}:{line}: {calls} > 0; most at {s_report.Aggregates.First(a => a.Line == line).Location} ({calls} calls)"];
        Assert.Equal(expected, exceeded);
    }

    [Fact]
    public void Check_IncompleteReport_FailsEvenWithinTheLimits()
    {
        var incomplete = new IoTraceReport(Strategy.All, "ebpf", TimeSpan.Zero, s_report.Aggregates, isComplete: false);

        var exception = Assert.Throws<IoBudgetExceededException>(() => new IoBudget().MaxCalls(100).Check(incomplete));

        Assert.Equal(["the report is incomplete (the backend may have missed calls), so staying within the budget proves nothing"], exception.Exceeded);
    }

    [Fact]
    public void Exceeded_SummaryReport_NamesTheProbeThatSpentMost()
    {
        var summary = new IoTraceReport(Strategy.Summary, "inprocess", TimeSpan.Zero,
            [Row("pread64", null, null, null, IoTargetKind.Other, 5, 50), Row("write", null, null, null, IoTargetKind.Other, 1, 10)]);

        Assert.Equal(["calls: 6 > 2; most at pread64 (5 calls)"], new IoBudget().MaxCalls(2).Exceeded(summary));
    }

    [Fact]
    public void MaxCalls_Negative_Throws() => Assert.Throws<ArgumentOutOfRangeException>(() => new IoBudget().MaxCalls(-1));

    [Fact]
    public void Check_ReportOfATracedBlock_CountsItsOwnCalls()
    {
        Requires.Linux();
        var path = Path.Combine(Path.GetTempPath(), $"iotrace-budget-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, new byte[10_000]);
        try
        {
            var report = IoTracer.Trace(Strategy.Read, () => File.ReadAllBytes(path));

            new IoBudget().MaxCalls("pread64", 1).MaxBytes(IoTargetKind.File, 10_000).Check(report);
            var exceeded = new IoBudget().MaxBytes(IoTargetKind.File, 9_999).Exceeded(report);
            Assert.Equal($"file bytes: 10000 > 9999; most at {Assert.Single(report.Aggregates).Location} (10000 bytes)", Assert.Single(exceeded));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static IoAggregate Row(string probe, string? file, int? line, string? target, IoTargetKind kind, long calls, long bytes) =>
        new(probe, file, line, file is null ? null : "Orders.Handler", target is null ? null : 7, target, calls, bytes, TimeSpan.FromMicroseconds(calls), TimeSpan.Zero, kind);
}
