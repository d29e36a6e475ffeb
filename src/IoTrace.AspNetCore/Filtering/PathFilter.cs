using Microsoft.AspNetCore.Http;

namespace IoTrace.AspNetCore.Filtering;

/// <summary>Which request paths are traced: those matching an include pattern (or all, without any) and no exclude pattern.</summary>
internal sealed class PathFilter
{
    public static readonly PathFilter All = new([], []);

    private readonly PathPattern[] _include;
    private readonly PathPattern[] _exclude;

    public PathFilter(PathPattern[] include, PathPattern[] exclude)
    {
        _include = include;
        _exclude = exclude;
    }

    public bool Matches(PathString path)
    {
        var value = path.Value.AsSpan();
        foreach (var pattern in _exclude)
        {
            if (pattern.IsMatch(value))
            {
                return false;
            }
        }

        if (_include.Length == 0)
        {
            return true;
        }

        foreach (var pattern in _include)
        {
            if (pattern.IsMatch(value))
            {
                return true;
            }
        }

        return false;
    }
}
