using System.Runtime.InteropServices;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Symbols.Tests.Native;

public sealed class FileImagesTests : IDisposable
{
    private readonly string _maps = Path.GetTempFileName();

    public void Dispose() => File.Delete(_maps);

    [Fact]
    public void Contains_LibcFunctionAndReadyToRunCoreLib_True()
    {
        Requires.Linux();
        var images = new FileImages();
        var libc = NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "read");

        Assert.True(images.Contains((ulong)libc));
        Assert.True(images.Contains(CoreLibCode()));
    }

    [Fact]
    public void Contains_MethodEntryInTheRuntimesExecutableMemory_False()
    {
        Requires.Linux();
        var entry = typeof(FileImagesTests).GetMethod(nameof(Dispose))!.MethodHandle.GetFunctionPointer();

        Assert.False(new FileImages().Contains((ulong)entry));
    }

    [Fact]
    public void Contains_MapsLines_OnlyExecutableFileMappingsNotTheDoubleMapper()
    {
        File.WriteAllLines(_maps,
        [
            "7f0000001000-7f0000002000 r-xp 00000000 08:01 100 /usr/lib/libc.so.6",
            "7f0000003000-7f0000004000 r--p 00000000 08:01 100 /usr/lib/libc.so.6",
            "7f0000005000-7f0000006000 r-xs 00000000 00:01 200 /memfd:doublemapper (deleted)",
            "7f0000007000-7f0000008000 r-xp 00000000 00:00 0",
            "7f0000009000-7f000000a000 r-xp 00010000 08:01 300 /app/System.Private.CoreLib.dll",
        ]);
        var images = new FileImages(_maps);

        Assert.Equal(
            [true, false, false, false, false, true, false],
            new ulong[] { 0x7f0000001000, 0x7f0000002000, 0x7f0000003800, 0x7f0000005800, 0x7f0000007800, 0x7f0000009fff, 0x10 }.Select(images.Contains));
    }

    /// <summary>
    /// A miss reads the maps again at most every 500 ms (jitted code is in no image, and misses every time); an assembly
    /// the runtime loaded since is read at the next miss once the images are told so.
    /// </summary>
    [Fact]
    public void TryFind_ImageMappedAfterARead_FoundOnceInvalidated()
    {
        File.WriteAllLines(_maps, ["7f0000001000-7f0000002000 r-xp 00000000 08:01 100 /usr/lib/libc.so.6"]);
        var images = new FileImages(_maps);
        Assert.False(images.Contains(0x7f0000009800));

        File.AppendAllLines(_maps, ["7f0000009000-7f000000a000 r-xp 00010000 08:01 300 /app/System.Net.NameResolution.dll"]);
        var beforeInvalidate = images.TryFind(0x7f0000009800, out _, out _);
        images.Invalidate();

        Assert.False(beforeInvalidate);
        Assert.True(images.TryFind(0x7f0000009800, out var path, out var offset));
        Assert.Equal(("/app/System.Net.NameResolution.dll", 0x10800UL), (path, offset));
    }

    /// <summary>An address inside System.Private.CoreLib's mapped image (ReadyToRun code lives there).</summary>
    private static ulong CoreLibCode()
    {
        var path = typeof(object).Assembly.Location;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (fields.Length == 6 && fields[1].Contains('x', StringComparison.Ordinal) && fields[5] == path)
            {
                return ulong.Parse(fields[0].Split('-')[0], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) + 16;
            }
        }

        Assert.Fail($"{path} has no executable mapping");
        return 0;
    }
}
