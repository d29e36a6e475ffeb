using IoTrace.AspNetCore.Configuration;
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

    private static IoTraceSettings Create(IoTraceOptions options) => IoTraceSettings.Create(options, options, "/srv/app");
}
