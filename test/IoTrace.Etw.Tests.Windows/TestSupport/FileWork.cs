using IoTrace.Tests.Shared;

namespace IoTrace.Etw.Tests.Windows.TestSupport;

/// <summary>File work whose lines the tests assert.</summary>
internal static class FileWork
{
    public static int OpenLine => SourceLines.Of("// the open");

    public static int ReadLine => SourceLines.Of("// the reads");

    public static void ReadToEnd(string path)
    {
        var buffer = new byte[4096];
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read); // the open
        for (long offset = 0, read; (read = RandomAccess.Read(handle, buffer, offset)) > 0; offset += read) // the reads
        {
        }
    }
}
