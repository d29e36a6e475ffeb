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
    public static RuntimeCode Of(IEnumerable<FileMapping> executable)
    {
        var libraries = executable
            .GroupBy(m => m.Path, StringComparer.Ordinal)
            .Select(library => (library.Key, Range: (library.Min(m => m.Start), library.Max(m => m.End))))
            .ToList();
        return new(
            [.. libraries.Where(l => LinuxLibraries.IsLibc(l.Key)).Select(l => l.Range)],
            [.. libraries.Where(l => LinuxLibraries.IsRuntime(l.Key)).Select(l => l.Range)]);
    }
}
