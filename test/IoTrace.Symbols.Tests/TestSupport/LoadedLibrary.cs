using System.Globalization;
using System.Runtime.InteropServices;
using IoTrace.Symbols.Native;

namespace IoTrace.Symbols.Tests.TestSupport;

/// <summary>A native library loaded into the test process, and how its file addresses map into the process.</summary>
internal sealed class LoadedLibrary
{
    private LoadedLibrary(string path, nint handle, ElfImage image, ulong loadBias)
    {
        Path = path;
        Handle = handle;
        Image = image;
        LoadBias = loadBias;
    }

    /// <summary>SQLite's native library as Microsoft.Data.Sqlite ships it (built without frame pointers).</summary>
    public static LoadedLibrary Sqlite { get; } = Load(System.IO.Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libe_sqlite3.so"));

    /// <summary>Debian's zlib1g, which dpkg itself depends on (the eBPF backend is x64 only).</summary>
    public static string ZlibPath
    {
        get
        {
            const string path = "/lib/x86_64-linux-gnu/libz.so.1";
            Xunit.Assert.True(File.Exists(path), "zlib (libz.so.1) is not installed");
            return path;
        }
    }

    public string Path { get; }

    public nint Handle { get; }

    public ElfImage Image { get; }

    /// <summary>What to add to an address in the file to get the address in the process.</summary>
    public ulong LoadBias { get; }

    /// <summary>The exported function's address in the file.</summary>
    public ulong FileAddressOf(string export) => (ulong)NativeLibrary.GetExport(Handle, export) - LoadBias;

    public static LoadedLibrary Load(string path)
    {
        var handle = NativeLibrary.Load(path);
        var image = ElfImage.Parse(File.ReadAllBytes(path));
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (fields.Length == 6 && fields[1].Contains('x', StringComparison.Ordinal) && fields[5] == path)
            {
                var start = ulong.Parse(fields[0].Split('-')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                var offset = ulong.Parse(fields[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                return new LoadedLibrary(path, handle, image, image.LoadBias(start, offset)!.Value);
            }
        }

        throw new InvalidOperationException($"{path} has no executable mapping");
    }
}
