using IoTrace.Symbols.Native;
using IoTrace.Ebpf.Attribution;
using IoTrace.Symbols.Tests.TestSupport;
using Xunit;

namespace IoTrace.Ebpf.Tests.TestSupport;

/// <summary>What the process teaches the BPF walk about a native library, measured on its own.</summary>
internal static class NativeLessons
{
    /// <summary>The rules a copy of <paramref name="library"/> gets in its first lesson when it is the only library of its folder.</summary>
    public static int FirstLessonAlone(string library)
    {
        var folder = Directory.CreateTempSubdirectory("iotrace-lesson-");
        try
        {
            var copy = Path.Combine(folder.FullName, Path.GetFileName(library));
            File.Copy(library, copy);
            _ = LoadedLibrary.Load(copy);
            var rules = new NativeUnwindRules((_, _) => { }, NativeUnwindRules.MaxRules, appDirectory: folder.FullName);
            rules.TeachAppLibraries(loaded: true);
            return Assert.Single(rules.FirstLessons).Rules;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
