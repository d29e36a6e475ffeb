using System.Runtime.CompilerServices;

namespace IoTrace.Tests.Shared;

/// <summary>Lines of the caller's own source file, to assert the line a report attributes a call to.</summary>
internal static class SourceLines
{
    /// <summary>The number of the first line of <paramref name="file"/> holding <paramref name="text"/>, other than a lookup's own.</summary>
    public static int Of(string text, [CallerFilePath] string file = "") =>
        Array.FindIndex(File.ReadAllLines(file), l => l.Contains(text, StringComparison.Ordinal) && !l.Contains("SourceLines.Of(", StringComparison.Ordinal)) + 1;
}
