using IoTrace.AspNetCore.Filtering;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Filtering;

public sealed class PathFilterTests
{
    [Theory]
    [InlineData(new string[0], new string[0], "/anything", true)]
    [InlineData(new string[0], new[] { "/health" }, "/health/live", false)]
    [InlineData(new string[0], new[] { "/health" }, "/api", true)]
    [InlineData(new[] { "/api" }, new string[0], "/api/orders", true)]
    [InlineData(new[] { "/api" }, new string[0], "/admin", false)]
    [InlineData(new[] { "/api", "/admin" }, new string[0], "/admin", true)]
    [InlineData(new[] { "/api" }, new[] { "/api/*/health" }, "/api/v1/health", false)]
    [InlineData(new[] { "/api" }, new[] { "/api/*/health" }, "/api/v1/orders", true)]
    public void Matches_Path_IncludedAndNotExcluded(string[] include, string[] exclude, string path, bool matches)
    {
        var filter = new PathFilter(Parse(include), Parse(exclude));

        Assert.Equal(matches, filter.Matches(path));
    }

    [Fact]
    public void All_AnyPath_Matches()
    {
        Assert.True(PathFilter.All.Matches(default));
        Assert.True(PathFilter.All.Matches("/x/y"));
    }

    private static PathPattern[] Parse(string[] patterns) =>
        [.. patterns.Select(p => PathPattern.TryParse(p, out var pattern, out _) ? pattern : throw new ArgumentException(p))];
}
