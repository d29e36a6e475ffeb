using System.Diagnostics;
using IoTrace.AspNetCore.Reporting;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Reporting;

/// <summary>The span enricher writes only to activities someone exports: those sampled as recorded.</summary>
public sealed class IoTraceActivityEnricherTests
{
    private static readonly IoTraceReport s_report = new(Strategy.Read, "inprocess", TimeSpan.FromMilliseconds(1),
        [new IoAggregate("pread64", "Program.cs", 12, "Main", 5, "/data/a", 2, 4096, TimeSpan.FromMilliseconds(0.2), TimeSpan.Zero)]);

    [Fact]
    public void OnTraced_ActivityNoOneRecords_LeftAlone()
    {
        // What ASP.NET Core starts for every request while its hosting logger is on: all data requested, not recorded.
        using var activity = new Activity("Microsoft.AspNetCore.Hosting.HttpRequestIn").Start();

        new IoTraceActivityEnricher().OnTraced(Request(activity));

        Assert.Empty(activity.TagObjects);
        Assert.Empty(activity.Events);
    }

    [Fact]
    public void OnTraced_RecordedActivity_TotalsAsTagsAndTheLineAsAnEvent()
    {
        using var activity = new Activity("Microsoft.AspNetCore.Hosting.HttpRequestIn");
        activity.ActivityTraceFlags = ActivityTraceFlags.Recorded;
        activity.Start();

        new IoTraceActivityEnricher().OnTraced(Request(activity));

        Assert.Equal((2L, 4096L), ((long)activity.GetTagItem("iotrace.calls")!, (long)activity.GetTagItem("iotrace.bytes")!));
        Assert.Equal("iotrace.line Program.cs:12", Assert.Single(activity.Events).Name);
    }

    private static TracedRequest Request(Activity activity) =>
        new("GET", "/files", "/files", 200, null, null, s_report, null, activity);
}
