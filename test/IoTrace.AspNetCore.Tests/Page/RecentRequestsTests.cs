using System.Diagnostics;
using IoTrace.AspNetCore.Page;
using IoTrace.AspNetCore.Reporting;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Page;

public sealed class RecentRequestsTests
{
    [Fact]
    public void OnTraced_MoreThanItsCapacity_KeepsTheNewestFirstWithTheirTimes()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 2, 30, 0, TimeSpan.Zero));
        var recent = new RecentRequests(capacity: 2, time);

        foreach (var path in (string[])["/a", "/b", "/c"])
        {
            recent.OnTraced(Request(path));
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(
            [(time.Start.AddSeconds(2), "/c"), (time.Start.AddSeconds(1), "/b")],
            recent.Newest().Select(r => (r.At, r.Request.Path)));
    }

    [Fact]
    public void OnTraced_RequestWithAnActivity_KeepsNotTheActivity()
    {
        using var activity = new Activity("request");
        var recent = new RecentRequests(capacity: 1, TimeProvider.System);

        recent.OnTraced(Request("/a") with { Activity = activity });

        Assert.Null(Assert.Single(recent.Newest()).Request.Activity);
    }

    private static TracedRequest Request(string path) =>
        new("GET", path, Route: null, StatusCode: 200, TraceId: null, SpanId: null, new IoTraceReport(Strategy.Read, "inprocess", TimeSpan.FromMilliseconds(1), []), EndpointSettings: null, Activity: null);
}
