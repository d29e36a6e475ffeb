using IoTrace.AspNetCore.Filtering;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Filtering;

public sealed class PathPatternTests
{
    [Theory]
    [InlineData("/", "", true)]
    [InlineData("/", "/", true)]
    [InlineData("/", "/anything/below", true)]
    [InlineData("/api", "/api", true)]
    [InlineData("/api", "/API/", true)]
    [InlineData("/api", "/api/orders/7", true)]
    [InlineData("/api", "/apix", false)]
    [InlineData("/api", "/ap", false)]
    [InlineData("/api", "/", false)]
    [InlineData("/api/orders", "/api", false)]
    [InlineData("/api/*/orders", "/api/v2/orders", true)]
    [InlineData("/api/*/orders", "/api/v2/orders/7", true)]
    [InlineData("/api/*/orders", "/api//orders", false)]
    [InlineData("/api/*/orders", "/api/v2/customers", false)]
    [InlineData("/*", "/", false)]
    [InlineData("/*", "/x", true)]
    [InlineData("/health", "health", false)]
    public void IsMatch_Path_MatchesItAndBelowCaseInsensitively(string pattern, string path, bool matches)
    {
        Assert.True(PathPattern.TryParse(pattern, out var parsed, out _));

        Assert.Equal(matches, parsed.IsMatch(path));
    }

    [Theory]
    [InlineData(null, "a path pattern cannot be empty")]
    [InlineData(" ", "a path pattern cannot be empty")]
    [InlineData("api", "'api' must start with '/'")]
    [InlineData("/api?x=1", "'/api?x=1' must be a path, without a query string or fragment")]
    [InlineData("/api#top", "'/api#top' must be a path, without a query string or fragment")]
    [InlineData("/api/", "'/api/' has an empty segment ('//' or a trailing '/')")]
    [InlineData("//api", "'//api' has an empty segment ('//' or a trailing '/')")]
    [InlineData("/api/v*", "'/api/v*' uses '*' inside a segment; '*' must be a whole segment")]
    [InlineData("/api/**", "'/api/**' uses '*' inside a segment; '*' must be a whole segment")]
    public void TryParse_Malformed_FailsSayingWhy(string? pattern, string error)
    {
        Assert.False(PathPattern.TryParse(pattern, out var parsed, out var actual));

        Assert.Null(parsed);
        Assert.Equal(error, actual);
    }

    [Fact]
    public void ToString_Parsed_IsThePattern()
    {
        Assert.True(PathPattern.TryParse("/api/*", out var parsed, out _));

        Assert.Equal("/api/*", parsed.ToString());
    }
}
