using System.Runtime.InteropServices;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Symbols.Tests.TestSupport;
using Xunit;

namespace IoTrace.Ebpf.Tests.Attribution;

/// <summary>
/// A native library of the app's folder loaded inside a trace with lines is learned before its dlopen returns, so the
/// kernel's walk steps through it from its first call (end to end, with SQLite in a fresh process:
/// <see cref="SqliteLineTests"/>), whole, also beside SQLite's lesson, which alone is larger than one kernel map could hold
/// beside another's.
/// </summary>
[Collection(typeof(KernelTracing))]
public sealed class NativeLibraryLoadsTests(EbpfFixture fixture) : IDisposable
{
    // zlib calls libc's read, write, open and close (gzio), as a library with IO of its own does; a copy under a name
    // of its own is a library the process has never loaded.
    private readonly string _library = Path.Combine(AppContext.BaseDirectory, $"libiotrace-load-{Guid.NewGuid():N}.so");

    public void Dispose() => File.Delete(_library);

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Load_InsideAnAllTrace_AfterSqlite_LibraryWhollyLearnedBeforeTheLoadReturns()
    {
        fixture.Require();
        var wholeLesson = NativeLessons.FirstLessonAlone(LoadedLibrary.ZlibPath);
        File.Copy(LoadedLibrary.ZlibPath, _library);
        var backend = EbpfFixture.Backend;
        var learnedAtLoad = false;

        var report = IoTracer.Trace(Strategy.All, () =>
        {
            // Learned in its own load here, or, where another test loaded it before, at attach, by a flush, or at the
            // latest with the next library loaded in a trace.
            _ = LoadedLibrary.Sqlite;
            _ = NativeLibrary.Load(_library);
            learnedAtLoad = backend.NativeFirstLessons.Any(l => l.Library == _library);
        });

        Assert.Equal(("ebpf", true), (report.Backend, report.IsComplete));
        Assert.True(learnedAtLoad, "the library was not learned by the time its dlopen returned");
        Assert.Contains(backend.NativeFirstLessons, l => l.Library == LoadedLibrary.Sqlite.Path);
        Assert.Equal(wholeLesson, Assert.Single(backend.NativeFirstLessons, l => l.Library == _library).Rules);
    }
}
