using System.Reflection;
using Xunit;

namespace IoTrace.AspNetCore.Tests;

public sealed class IoTraceOptionsTests
{
    [Fact]
    public void Constructor_Defaults_AreTheDocumentedOnes()
    {
        var options = new IoTraceOptions();

        Assert.True(options.Enabled);
        Assert.Equal(Strategy.Summary, options.Strategy);
        Assert.Same(IoTraceFormatters.Get("default"), options.Formatter);
        Assert.Equal(LogLevel.Information, options.LogLevel);
        Assert.Equal(IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time, options.Features);
        Assert.Equal(IoTraceBackend.Auto, options.Backend);
        Assert.Empty(options.IncludePaths);
        Assert.Empty(options.ExcludePaths);
        Assert.Equal(["System.", "Microsoft.", "Internal.", "Interop"], options.SkippedNamespaces);
        Assert.Equal((0L, 0L), (options.MinimumCalls, options.MinimumBytes));
        Assert.Equal(1.0, options.SamplingRatio);
    }

    [Fact]
    public void Formatter_AssignedTheGemsLambdaContract_IsThatDelegate()
    {
        var options = new IoTraceOptions();
        using var writer = new StringWriter();

        options.Formatter = (stream, trace) => stream.Write($"{trace.Strategy} {trace.TotalCalls}");
        options.Formatter(writer, new IoTraceReport(Strategy.Read, "inprocess", TimeSpan.Zero, []));

        Assert.Equal("Read 0", writer.ToString());
    }

    [Fact]
    public void Clone_EveryPropertySet_CopiesEachIntoNewLists()
    {
        IoTraceFormatter formatter = (_, _) => { };
        var options = new IoTraceOptions
        {
            Enabled = false,
            Strategy = Strategy.All,
            Formatter = formatter,
            LogLevel = LogLevel.Warning,
            Features = IoTraceFeatures.Calls,
            Backend = IoTraceBackend.InProcess,
            MinimumCalls = 3,
            MinimumBytes = 4,
            SamplingRatio = 0.5,
            ConfigurationPath = "Custom:Section",
        };
        options.IncludePaths.Add("/api");
        options.ExcludePaths.Add("/health");
        options.SkippedNamespaces.Add("Contoso.Data.");
        options.ConfigurationErrors.Add("an error");

        var clone = options.Clone();

        // A property added without updating Clone fails here.
        foreach (var property in typeof(IoTraceOptions).GetProperties(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            var original = property.GetValue(options);
            var copied = property.GetValue(clone);
            if (original is System.Collections.IEnumerable list and not string)
            {
                Assert.NotSame(original, copied);
                Assert.Equal(list.Cast<object>(), ((System.Collections.IEnumerable)copied!).Cast<object>());
            }
            else
            {
                Assert.Equal(original, copied);
            }
        }
    }
}
