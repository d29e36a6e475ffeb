using IoTrace.Platform.Linux;

namespace IoTrace.Symbols;

/// <summary>
/// Where libc's code and the runtime's native code (libcoreclr, libclrjit) lie in the process, one range per library. A
/// backend that keeps no stack for a trace without context keeps one for a call that libc's wrapper got from the
/// runtime, directly or through libc's own code, so that <see cref="StackAttributor.SiteWithoutContext"/> tells it apart.
/// </summary>
internal sealed record RuntimeCode(IReadOnlyList<(ulong Start, ulong End)> Libc, IReadOnlyList<(ulong Start, ulong End)> Runtime)
{
    /// <summary>The ranges among <paramref name="executable"/> mappings (<see cref="ProcessMaps.Executable"/>).</summary>
    /// <remarks>Plain loops: run once, at attach, where LINQ's generic code over tuples took 15 to 20 ms to compile.</remarks>
    public static RuntimeCode Of(IEnumerable<FileMapping> executable)
    {
        var libc = new Dictionary<string, (ulong Start, ulong End)>(StringComparer.Ordinal);
        var runtime = new Dictionary<string, (ulong Start, ulong End)>(StringComparer.Ordinal);
        foreach (var mapping in executable)
        {
            var ranges = LinuxLibraries.IsLibc(mapping.Path) ? libc : LinuxLibraries.IsRuntime(mapping.Path) ? runtime : null;
            if (ranges is null)
            {
                continue;
            }

            ranges[mapping.Path] = ranges.TryGetValue(mapping.Path, out var range)
                ? (Math.Min(range.Start, mapping.Start), Math.Max(range.End, mapping.End))
                : (mapping.Start, mapping.End);
        }

        return new([.. libc.Values], [.. runtime.Values]);
    }
}
