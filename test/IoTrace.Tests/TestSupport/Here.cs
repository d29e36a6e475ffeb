using System.Runtime.CompilerServices;

namespace IoTrace.Tests.TestSupport;

/// <summary>The caller's own source location, to assert the line a report attributes a call to.</summary>
internal static class Here
{
    public static int Line([CallerLineNumber] int line = 0) => line;

    public static string File([CallerFilePath] string path = "") => path;
}
