using IoTrace.Platform.Linux;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Symbols.Tests;

public sealed class RuntimeCodeTests
{
    [Fact]
    public void Of_MappedFiles_OneRangePerLibcOrRuntimeLibrary()
    {
        FileMapping[] mappings =
        [
            new(0x1000, 0x2000, 0, "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            new(0x3000, 0x5000, 0x2000, "/usr/lib/x86_64-linux-gnu/libc.so.6"),
            new(0x10000, 0x20000, 0, "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.0/libcoreclr.so"),
            new(0x30000, 0x40000, 0, "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.0/libSystem.Native.so"),
            new(0x50000, 0x60000, 0, "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.0/libclrjit.so"),
            new(0x70000, 0x80000, 0, "/app/libe_sqlite3.so"),
        ];

        var code = RuntimeCode.Of(mappings);

        Assert.Equal([(0x1000UL, 0x5000UL)], code.Libc);
        Assert.Equal([(0x10000UL, 0x20000UL), (0x50000UL, 0x60000UL)], code.Runtime);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Of_ThisProcess_LibcAndTheRuntimesTwoLibraries()
    {
        Requires.Linux();

        var code = RuntimeCode.Of(ProcessMaps.Executable());

        Assert.Single(code.Libc);
        Assert.Equal(2, code.Runtime.Count);
        Assert.All(code.Libc.Concat(code.Runtime), r => Assert.True(r.Start < r.End));
    }
}
