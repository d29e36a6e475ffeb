using System.Runtime.CompilerServices;

namespace IoTrace.AspNetCore.Tests.TestInfrastructure;

/// <summary>Files of known sizes, made before a request so that their creation is never in its trace.</summary>
internal static class TestFiles
{
    private static readonly Lazy<string> s_directory = new(() =>
    {
        var directory = Directory.CreateTempSubdirectory("iotrace-aspnetcore-tests-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(directory, recursive: true);
        return directory;
    });

    private static readonly Lock s_lock = new();

    /// <summary>The test project's directory: the content root of the test apps, so reports print paths relative to it.</summary>
    public static string ProjectDirectory { get; } = Path.GetDirectoryName(Path.GetDirectoryName(ThisFile()))!;

    /// <summary>The path of the file of <paramref name="size"/> bytes, without touching the disk (endpoints call this inside traces).</summary>
    public static string PathOf(int size) => Path.Combine(s_directory.Value, $"{size}.bin");

    /// <summary>Creates the file of <paramref name="size"/> bytes unless it exists, and returns its path.</summary>
    public static string Create(int size)
    {
        var path = PathOf(size);
        lock (s_lock)
        {
            if (!File.Exists(path))
            {
                var content = new byte[size];
                new Random(size).NextBytes(content);
                File.WriteAllBytes(path, content);
            }
        }

        return path;
    }

    private static string ThisFile([CallerFilePath] string path = "") => path;
}
