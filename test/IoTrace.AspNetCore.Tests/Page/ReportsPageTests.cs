using IoTrace.AspNetCore.Page;
using IoTrace.AspNetCore.Reporting;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Page;

public sealed class ReportsPageTests
{
    [Fact]
    public void Render_RequestThatUsedASharedConnection_ItsCallsAfterTheTableOutOfTheTotals()
    {
        var report = new IoTraceReport(Strategy.All, "inprocess", TimeSpan.FromMilliseconds(2),
            [new IoAggregate("pread64", "Program.cs", 17, "Program.Main", 12, "/srv/orders.db", 3, 12288, TimeSpan.Zero, TimeSpan.Zero)],
            sharedAggregates:
            [
                new IoAggregate("recvfrom", null, null, "(shared connection)", 77, "127.0.0.1:6379", 10, 1533, TimeSpan.Zero, TimeSpan.Zero, IoTargetKind.Socket),
                new IoAggregate("sendto", null, null, "(shared connection)", 77, "127.0.0.1:6379", 5, 641, TimeSpan.Zero, TimeSpan.Zero, IoTargetKind.Socket),
            ]);
        var request = new TracedRequest("GET", "/orders", null, 200, null, null, report, null, null);

        var html = ReportsPage.Render([(DateTimeOffset.UnixEpoch, request)]);

        Assert.Contains("3 calls, 12288 B", html, StringComparison.Ordinal);
        Assert.Contains("</table><p class=\"shared\">Shared connections, their calls outside this request while it used them (not in the totals): 127.0.0.1:6379 recvfrom 10 (1533 B), sendto 5 (641 B)</p></section>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_NoSharedConnection_NoSharedParagraph()
    {
        var report = new IoTraceReport(Strategy.All, "inprocess", TimeSpan.FromMilliseconds(2), []);

        var html = ReportsPage.Render([(DateTimeOffset.UnixEpoch, new TracedRequest("GET", "/", null, 200, null, null, report, null, null))]);

        Assert.DoesNotContain("<p class=\"shared\">", html, StringComparison.Ordinal);
    }
}
