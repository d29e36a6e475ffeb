using Xunit;

namespace IoTrace.Tests;

public sealed class IoTraceFormattersTests
{
    private static readonly IoTraceReport s_report = new(Strategy.Read, "inprocess", TimeSpan.FromMilliseconds(1),
        [new IoAggregate("read", "a.cs", 1, "A.B", 3, "/f", 2, 10, TimeSpan.FromTicks(10), TimeSpan.FromTicks(5))]);

    [Theory]
    [InlineData("default")]
    [InlineData("TIME")]
    [InlineData("Calls")]
    [InlineData("cpu")]
    [InlineData("wait")]
    [InlineData("bytes")]
    [InlineData("fds")]
    [InlineData(" files ")]
    public void Get_BuiltInNameInAnyCase_ReturnsTheFormatter(string name) =>
        Assert.NotNull(IoTraceFormatters.Get(name));

    [Fact]
    public void Get_UnknownName_ThrowsNamingTheAllowedValues()
    {
        var error = Assert.Throws<ArgumentException>(() => IoTraceFormatters.Get("nope"));

        Assert.StartsWith("Unknown formatter 'nope'. Allowed values: default, time, calls, cpu, wait, bytes, fds, files", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Register_CustomFormatter_IsFoundByNameAndUsedByTrace()
    {
        var name = $"custom-{Guid.NewGuid():N}";
        IoTraceFormatters.Register(name, (stream, trace) => stream.Write($"{trace.Strategy}:{trace.TotalBytes}"));
        using var writer = new StringWriter();

        IoTraceFormatters.Get(name.ToUpperInvariant())(writer, s_report);

        Assert.Equal("Read:10", writer.ToString());
        Assert.Contains(name, IoTraceFormatters.Names);
        Assert.Equal("Read:10", s_report.ToString(name));
    }

    [Fact]
    public void Register_BuiltInName_Throws()
    {
        var error = Assert.Throws<ArgumentException>(() => IoTraceFormatters.Register("Default", (_, _) => { }));

        Assert.Contains("built-in", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryGet_NullOrBlank_ReturnsFalse()
    {
        Assert.False(IoTraceFormatters.TryGet(null, out _));
        Assert.False(IoTraceFormatters.TryGet("  ", out _));
    }
}
