using IoTrace.AspNetCore.Configuration;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Configuration;

public sealed class IoTraceConfigurationBinderTests
{
    [Fact]
    public void Bind_NamesInAnyCase_SetsEveryOption()
    {
        var options = Bind(new()
        {
            ["IoTrace:enabled"] = "False",
            ["IoTrace:STRATEGY"] = "write",
            ["IoTrace:Formatter"] = "BYTES",
            ["IoTrace:LogLevel"] = "warning",
            ["IoTrace:Features"] = "calls, BYTES,time",
            ["IoTrace:Backend"] = "inprocess",
            ["IoTrace:IncludePaths:0"] = "/api",
            ["IoTrace:IncludePaths:1"] = "/admin",
            ["IoTrace:ExcludePaths"] = "/health",
            ["IoTrace:SkippedNamespaces:0"] = "Contoso.Data.",
            ["IoTrace:MinimumCalls"] = "100",
            ["IoTrace:MinimumBytes"] = " 1048576 ",
            ["IoTrace:SamplingRatio"] = "0.25",
        });

        Assert.Empty(options.ConfigurationErrors);
        Assert.False(options.Enabled);
        Assert.Equal(Strategy.Write, options.Strategy);
        Assert.Same(IoTraceFormatters.Get("bytes"), options.Formatter);
        Assert.Equal(LogLevel.Warning, options.LogLevel);
        Assert.Equal(IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time, options.Features);
        Assert.Equal(IoTraceBackend.InProcess, options.Backend);
        Assert.Equal(["/api", "/admin"], options.IncludePaths);
        Assert.Equal(["/health"], options.ExcludePaths);
        Assert.Equal(["System.", "Microsoft.", "Internal.", "Interop", "Contoso.Data."], options.SkippedNamespaces);
        Assert.Equal((100L, 1048576L), (options.MinimumCalls, options.MinimumBytes));
        Assert.Equal(0.25, options.SamplingRatio);
        Assert.Equal("IoTrace", options.ConfigurationPath);
    }

    [Fact]
    public void Bind_RegisteredFormatterName_ResolvesToIt()
    {
        IoTraceFormatter formatter = (stream, _) => stream.Write("registered");
        IoTraceFormatters.Register("binder-tests-registered", formatter);

        var options = Bind(new() { ["IoTrace:Formatter"] = "Binder-Tests-Registered" });

        Assert.Same(formatter, options.Formatter);
    }

    [Theory]
    [InlineData("Strategy", "Fast", "IoTrace:Strategy: 'Fast' is not a strategy. Allowed values: Summary, Setup, Read, Write, All.")]
    [InlineData("Strategy", "4", "IoTrace:Strategy: '4' is not a strategy. Allowed values: Summary, Setup, Read, Write, All.")]
    [InlineData("Backend", "perf", "IoTrace:Backend: 'perf' is not a backend. Allowed values: Auto, InProcess, Ebpf, DTrace, Etw.")]
    [InlineData("MinimumCalls", "1e3", "IoTrace:MinimumCalls: '1e3' is not a count. Allowed values: 0 or a positive whole number.")]
    [InlineData("SamplingRatio", "-0.5", "IoTrace:SamplingRatio: '-0.5' is not a ratio. Allowed values: a number from 0 to 1, such as 0.1 for one request in ten.")]
    [InlineData("SamplingRatio", "1.5", "IoTrace:SamplingRatio: '1.5' is not a ratio. Allowed values: a number from 0 to 1, such as 0.1 for one request in ten.")]
    [InlineData("SamplingRatio", "10%", "IoTrace:SamplingRatio: '10%' is not a ratio. Allowed values: a number from 0 to 1, such as 0.1 for one request in ten.")]
    [InlineData("SamplingRatio", "NaN", "IoTrace:SamplingRatio: 'NaN' is not a ratio. Allowed values: a number from 0 to 1, such as 0.1 for one request in ten.")]
    [InlineData("Enabled", "1", "IoTrace:Enabled: '1' is not a boolean. Allowed values: true, false.")]
    [InlineData("Features", "Calls, Wall", "IoTrace:Features: 'Calls, Wall' is not a list of features. Allowed values: a comma-separated list of Calls, Bytes, Time, Cpu, Wait; or All, or None (calls only).")]
    [InlineData("Redaction", "Paths", "IoTrace:Redaction: 'Paths' is not a list of things to redact. Allowed values: a comma-separated list of FilePaths, PeerAddresses; or All, or None.")]
    [InlineData("Verbose", "true", "IoTrace:Verbose: 'Verbose' is not an IoTrace setting. Allowed keys: Enabled, Strategy, Formatter, LogLevel, Features, Redaction, IncludeRuntimeIo, ServerTiming, Backend, IncludePaths, ExcludePaths, SkippedNamespaces, MinimumCalls, MinimumBytes, CallBudget, ByteBudget, RepeatedOpenThreshold, ChattyIoThreshold, ChattyIoBytes, RoundTripThreshold, SamplingRatio.")]
    [InlineData("Strategy:Name", "Read", "IoTrace:Strategy: must be a single value, not a section.")]
    public void Bind_UnusableValue_RecordsAnErrorAndKeepsTheDefault(string key, string value, string error)
    {
        var options = Bind(new() { [$"IoTrace:{key}"] = value });

        Assert.Equal([error], options.ConfigurationErrors);
        Assert.Equal((Strategy.Summary, IoTraceBackend.Auto, 0L, true, IoTraceStartOptions.DefaultFeatures), (options.Strategy, options.Backend, options.MinimumCalls, options.Enabled, options.Features));
    }

    [Fact]
    public void Bind_EmptyValue_KeepsTheDefault()
    {
        var options = Bind(new() { ["IoTrace:Strategy"] = "", ["IoTrace:LogLevel"] = " " });

        Assert.Empty(options.ConfigurationErrors);
        Assert.Equal((Strategy.Summary, LogLevel.Information), (options.Strategy, options.LogLevel));
    }

    [Fact]
    public void Bind_NestedSection_ErrorsNameItsFullPath()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Diagnostics:Tracing:Strategy"] = "x" }).Build();
        var options = new IoTraceOptions();

        IoTraceConfigurationBinder.Bind(configuration.GetSection("Diagnostics:Tracing"), options);

        Assert.Equal("Diagnostics:Tracing", options.ConfigurationPath);
        Assert.Equal(["Diagnostics:Tracing:Strategy: 'x' is not a strategy. Allowed values: Summary, Setup, Read, Write, All."], options.ConfigurationErrors);
    }

    [Fact]
    public void Bind_SameEntryTwice_AddsItOnce()
    {
        var options = Bind(new() { ["IoTrace:SkippedNamespaces:0"] = "System.", ["IoTrace:ExcludePaths:0"] = "/a", ["IoTrace:ExcludePaths:1"] = "/a" });

        Assert.Equal(["System.", "Microsoft.", "Internal.", "Interop"], options.SkippedNamespaces);
        Assert.Equal(["/a"], options.ExcludePaths);
    }

    [Theory]
    [InlineData("read", true, Strategy.Read)]
    [InlineData(" All ", true, Strategy.All)]
    [InlineData("1", false, Strategy.Summary)]
    [InlineData("Read,Write", false, Strategy.Summary)]
    [InlineData(null, false, Strategy.Summary)]
    public void TryParseName_Text_ParsesNamesOnly(string? text, bool parsed, Strategy expected)
    {
        Assert.Equal(parsed, IoTraceConfigurationBinder.TryParseName<Strategy>(text, out var strategy));
        Assert.Equal(expected, strategy);
    }

    [Theory]
    [InlineData("All", true, IoTraceFeatures.All)]
    [InlineData("None", true, IoTraceFeatures.None)]
    [InlineData("cpu", true, IoTraceFeatures.Cpu)]
    [InlineData("Calls,Time , Bytes", true, IoTraceFeatures.Calls | IoTraceFeatures.Time | IoTraceFeatures.Bytes)]
    [InlineData("Calls,", false, IoTraceFeatures.None)]
    [InlineData("12", false, IoTraceFeatures.None)]
    public void TryParseFlags_FeatureText_ParsesACommaSeparatedListOfNames(string text, bool parsed, IoTraceFeatures expected)
    {
        Assert.Equal(parsed, IoTraceConfigurationBinder.TryParseFlags<IoTraceFeatures>(text, out var features));
        Assert.Equal(expected, features);
    }

    [Theory]
    [InlineData("All", IoTraceRedaction.All)]
    [InlineData("filepaths", IoTraceRedaction.FilePaths)]
    [InlineData("FilePaths, PeerAddresses", IoTraceRedaction.All)]
    [InlineData("None", IoTraceRedaction.None)]
    public void Bind_Redaction_ParsesTheListOfNames(string value, IoTraceRedaction expected)
    {
        var options = Bind(new() { ["IoTrace:Redaction"] = value });

        Assert.Empty(options.ConfigurationErrors);
        Assert.Equal(expected, options.Redaction);
    }

    private static IoTraceOptions Bind(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var options = new IoTraceOptions();
        IoTraceConfigurationBinder.Bind(configuration.GetSection("IoTrace"), options);
        return options;
    }
}
