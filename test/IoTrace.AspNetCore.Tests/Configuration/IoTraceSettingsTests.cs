using System.Diagnostics;
using IoTrace.AspNetCore.Configuration;
using IoTrace.Tracing;
using IoTrace.Tests.Shared;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Configuration;

public sealed class IoTraceSettingsTests
{
    [Theory]
    [InlineData(0, 0, 0, 0, true)]
    [InlineData(10, 0, 9, 1_000_000, false)]
    [InlineData(10, 0, 10, 0, true)]
    [InlineData(0, 4096, 1000, 4095, false)]
    [InlineData(0, 4096, 0, 4096, true)]
    [InlineData(10, 4096, 9, 4096, true)]
    [InlineData(10, 4096, 10, 4095, true)]
    [InlineData(10, 4096, 9, 4095, false)]
    public void ShouldLog_Thresholds_LogsWhenAnySetOneIsReached(long minimumCalls, long minimumBytes, long calls, long bytes, bool logged)
    {
        var settings = Create(new IoTraceOptions { MinimumCalls = minimumCalls, MinimumBytes = minimumBytes });
        IoAggregate[] aggregates = calls == 0 && bytes == 0 ? [] : [new("pread64", null, null, null, null, null, calls, bytes, TimeSpan.Zero, TimeSpan.Zero)];

        Assert.Equal(logged, settings.ShouldLog(new IoTraceReport(Strategy.Summary, "inprocess", TimeSpan.Zero, aggregates)));
    }

    [Theory]
    [InlineData(true, "/api/orders", true)]
    [InlineData(true, "/health", false)]
    [InlineData(true, "/other", false)]
    [InlineData(false, "/api/orders", false)]
    public void ShouldTrace_Path_FollowsEnabledAndPatterns(bool enabled, string path, bool traced)
    {
        var options = new IoTraceOptions { Enabled = enabled };
        options.IncludePaths.Add("/api");
        options.IncludePaths.Add("/health");
        options.ExcludePaths.Add("/health");

        Assert.Equal(traced, Create(options).ShouldTrace(path));
    }

    [Theory]
    [InlineData(0.5, "00000000000000", true)]
    [InlineData(0.5, "7fffffffffffff", true)]
    [InlineData(0.5, "80000000000000", false)]
    [InlineData(0.5, "ffffffffffffff", false)]
    [InlineData(0.25, "3fffffffffffff", true)]
    [InlineData(0.25, "40000000000000", false)]
    [InlineData(1.0, "ffffffffffffff", true)]
    [InlineData(0.0, "00000000000000", false)]
    public void IsSampled_W3CActivity_PicksByTheTraceIdsRightMostSevenBytes(double ratio, string lowBytes, bool sampled)
    {
        // The left-most nine bytes (ff01...) would leave every id out if they counted: only the right-most seven do.
        var settings = Create(new IoTraceOptions { SamplingRatio = ratio });
        using var activity = StartActivity($"ff0123456789abcdef{lowBytes}");

        Assert.Equal(sampled, settings.IsSampled(activity));
    }

    [Fact]
    public void IsSampled_NoActivity_AtRandomWithinTheRatio()
    {
        var never = Create(new IoTraceOptions { SamplingRatio = 0 });
        var always = Create(new IoTraceOptions { SamplingRatio = 1 });
        var half = Create(new IoTraceOptions { SamplingRatio = 0.5 });

        var picked = Enumerable.Range(0, 1000).Count(_ => half.IsSampled(null));

        Assert.False(never.IsSampled(null));
        Assert.True(always.IsSampled(null));

        // Both outcomes: the chance that 1,000 fair draws all agree is 2^-999.
        Assert.InRange(picked, 1, 999);
    }

    [Fact]
    public void IsSampled_HierarchicalActivity_AtRandom()
    {
        var half = Create(new IoTraceOptions { SamplingRatio = 0.5 });
        using var activity = new Activity("request").SetIdFormat(ActivityIdFormat.Hierarchical).SetParentId("|parent.1.").Start();

        var picked = Enumerable.Range(0, 1000).Count(_ => half.IsSampled(activity));

        Assert.InRange(picked, 1, 999);
    }

    private static Activity StartActivity(string traceId) =>
        new Activity("request")
            .SetParentId(ActivityTraceId.CreateFromString(traceId), ActivitySpanId.CreateFromString("b7ad6b7169203331"), ActivityTraceFlags.Recorded)
            .Start();

    [Fact]
    public void Create_Options_StartOptionsCarryContentRootFeaturesAndSkippedNamespaces()
    {
        var options = new IoTraceOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes };
        options.SkippedNamespaces.Remove("Interop");
        options.SkippedNamespaces.Add("Contoso.Data.");

        var settings = Create(options);

        Assert.Equal("/srv/app", settings.StartOptions.RootPath);
        Assert.Equal(IoTraceFeatures.Calls | IoTraceFeatures.Bytes, settings.StartOptions.Features);
        Assert.Equal(["System.", "Microsoft.", "Internal.", "Contoso.Data."], settings.StartOptions.SkippedNamespaces);
    }

    private static IoTraceSettings Create(IoTraceOptions options) => IoTraceSettings.Create(options, options, "/srv/app", new Tracer(new FakeBackend(), NullLoggerFactory.Instance));
}
