using Xunit;

namespace IoTrace.AspNetCore.Tests;

public sealed class IoTraceAttributeTests
{
    [Fact]
    public void Constructor_NotAStrategy_ThrowsNamingTheAllowedValues()
    {
        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => new IoTraceAttribute((Strategy)42));

        Assert.Equal("strategy", exception.ParamName);
        Assert.StartsWith("Allowed values: Summary, Setup, Read, Write, All.", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithIoTrace_OnAnEndpoint_AddsTheAttributeAsMetadata()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddRouting();
        using var app = builder.Build();

        app.MapGet("/upload", () => "ok").WithIoTrace(Strategy.Write);

        var endpoint = Assert.Single(((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints));
        Assert.Equal(Strategy.Write, endpoint.Metadata.GetMetadata<IoTraceAttribute>()?.Strategy);
    }
}
