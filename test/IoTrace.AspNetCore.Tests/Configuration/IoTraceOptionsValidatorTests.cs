using IoTrace.AspNetCore.Configuration;
using IoTrace.AspNetCore.Filtering;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Configuration;

public sealed class IoTraceOptionsValidatorTests
{
    private readonly IoTraceOptionsValidator _validator = new();

    [Fact]
    public void Validate_Defaults_Succeeds()
    {
        Assert.True(_validator.Validate(null, new IoTraceOptions()).Succeeded);
    }

    [Fact]
    public void Validate_InProcessBackendOnLinux_Succeeds()
    {
        Assert.Equal("inprocess", IoTracer.BackendName);

        Assert.True(_validator.Validate(null, new IoTraceOptions { Backend = IoTraceBackend.InProcess }).Succeeded);
    }

    [Fact]
    public void Validate_EveryRuleBroken_ReportsEachWithItsKeyAndAllowedValues()
    {
        var options = new IoTraceOptions
        {
            Strategy = (Strategy)9,
            Formatter = null!,
            LogLevel = (LogLevel)42,
            Features = (IoTraceFeatures)32,
            Backend = (IoTraceBackend)7,
            MinimumCalls = -1,
            MinimumBytes = -2,
            SamplingRatio = 1.5,
        };
        options.IncludePaths.Add("/ok");
        options.IncludePaths.Add("api");
        options.ExcludePaths.Add("/a//b");
        options.SkippedNamespaces.Add(" ");
        options.ConfigurationErrors.Add("IoTrace:Strategy: 'x' is not a strategy.");

        var result = _validator.Validate(null, options);

        var formatters = string.Join(", ", IoTraceFormatters.Names);
        Assert.Equal(
            [
                "IoTrace:Strategy: 'x' is not a strategy.",
                "IoTrace:Strategy: '9' is not a strategy. Allowed values: Summary, Setup, Read, Write, All.",
                $"IoTrace:Formatter: a formatter is required. Allowed values: {formatters}, or a delegate in code.",
                "IoTrace:LogLevel: '42' is not a log level. Allowed values: Trace, Debug, Information, Warning, Error, Critical, None.",
                "IoTrace:Features: '32' is not a list of features. Allowed values: a comma-separated list of Calls, Bytes, Time, Cpu, Wait; or All, or None (calls only).",
                "IoTrace:Backend: '7' is not a backend. Allowed values: Auto, InProcess, Ebpf, DTrace, Etw.",
                $"IoTrace:IncludePaths:1: 'api' must start with '/'. {PathPattern.Syntax}.",
                $"IoTrace:ExcludePaths:0: '/a//b' has an empty segment ('//' or a trailing '/'). {PathPattern.Syntax}.",
                "IoTrace:SkippedNamespaces:4: a namespace prefix cannot be empty.",
                "IoTrace:MinimumCalls: '-1' is negative. Allowed values: 0 (no threshold) or a positive count.",
                "IoTrace:MinimumBytes: '-2' is negative. Allowed values: 0 (no threshold) or a positive count.",
                "IoTrace:SamplingRatio: '1.5' is not a ratio. Allowed values: a number from 0 to 1, such as 0.1 for one request in ten.",
            ],
            result.Failures);
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(-0.01, "-0.01")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    public void Validate_SamplingRatioOutsideZeroToOne_NamesTheKeyAndTheRange(double ratio, string shown)
    {
        var result = _validator.Validate(null, new IoTraceOptions { SamplingRatio = ratio });

        Assert.Equal([$"IoTrace:SamplingRatio: '{shown}' is not a ratio. Allowed values: a number from 0 to 1, such as 0.1 for one request in ten."], result.Failures);
    }

    [Fact]
    public void Validate_BoundFromAnotherSection_NamesItsKeys()
    {
        var options = new IoTraceOptions { ConfigurationPath = "Diagnostics:Tracing", MinimumBytes = -1 };

        var result = _validator.Validate(null, options);

        Assert.Equal(["Diagnostics:Tracing:MinimumBytes: '-1' is negative. Allowed values: 0 (no threshold) or a positive count."], result.Failures);
    }

    [Theory]
    [InlineData(IoTraceBackend.Auto, null)]
    [InlineData(IoTraceBackend.InProcess, "inprocess")]
    public void BackendName_Backend_IsTheCoresName(IoTraceBackend backend, string? name)
    {
        Assert.Equal(name, IoTraceSettings.BackendName(backend));
    }
}
