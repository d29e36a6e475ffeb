namespace IoTrace.Tests.TestSupport;

/// <summary>Files of known sizes in a directory that is deleted with the instance.</summary>
internal sealed class TempFiles : IDisposable
{
    public TempFiles()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("iotrace-tests-").FullName;
    }

    public string Directory { get; }

    public string Create(int size, string? name = null)
    {
        var path = Path.Combine(Directory, name ?? $"file-{size}-{Guid.NewGuid():N}.bin");
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public string PathFor(string name) => Path.Combine(Directory, name);

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
