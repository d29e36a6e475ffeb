using System.Diagnostics.CodeAnalysis;

namespace IoTrace.AspNetCore.Filtering;

/// <summary>
/// A path pattern of <see cref="IoTraceOptions.IncludePaths"/> and <see cref="IoTraceOptions.ExcludePaths"/>:
/// <c>/</c> or <c>/segment/...</c>, where <c>*</c> is any one segment; it matches its path and every path below it.
/// </summary>
internal sealed class PathPattern
{
    public const string Syntax =
        "A path pattern is '/' or '/segment/segment...'; it matches its path and every path below it, and a '*' segment matches any one segment";

    private const string Wildcard = "*";

    private readonly string[] _segments;

    private PathPattern(string pattern, string[] segments)
    {
        Pattern = pattern;
        _segments = segments;
    }

    public string Pattern { get; }

    public static bool TryParse(string? pattern, [NotNullWhen(true)] out PathPattern? result, [NotNullWhen(false)] out string? error)
    {
        result = null;
        error = Check(pattern);
        if (error is not null)
        {
            return false;
        }

        var segments = pattern == "/" ? [] : pattern!.Split('/')[1..];
        result = new PathPattern(pattern!, segments);
        return true;
    }

    /// <summary>Matches a request path (<c>HttpRequest.Path</c>: empty or starting with '/'), case-insensitively, without allocating.</summary>
    public bool IsMatch(ReadOnlySpan<char> path)
    {
        if (path.IsEmpty)
        {
            path = "/";
        }

        if (path[0] != '/')
        {
            return false;
        }

        var rest = path[1..];
        var ended = false;
        foreach (var expected in _segments)
        {
            if (ended)
            {
                return false;
            }

            var slash = rest.IndexOf('/');
            var segment = slash < 0 ? rest : rest[..slash];
            if (segment.IsEmpty || (expected != Wildcard && !segment.Equals(expected, StringComparison.OrdinalIgnoreCase)))
            {
                return false;
            }

            ended = slash < 0;
            rest = ended ? default : rest[(slash + 1)..];
        }

        return true;
    }

    public override string ToString() => Pattern;

    private static string? Check(string? pattern)
    {
        if (string.IsNullOrWhiteSpace(pattern))
        {
            return "a path pattern cannot be empty";
        }

        if (pattern[0] != '/')
        {
            return $"'{pattern}' must start with '/'";
        }

        if (pattern.AsSpan().IndexOfAny('?', '#') >= 0)
        {
            return $"'{pattern}' must be a path, without a query string or fragment";
        }

        if (pattern == "/")
        {
            return null;
        }

        foreach (var segment in pattern.Split('/')[1..])
        {
            if (segment.Length == 0)
            {
                return $"'{pattern}' has an empty segment ('//' or a trailing '/')";
            }

            if (segment != Wildcard && segment.Contains('*', StringComparison.Ordinal))
            {
                return $"'{pattern}' uses '*' inside a segment; '*' must be a whole segment";
            }
        }

        return null;
    }
}
