using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Testing;
using Xunit;

namespace IoTrace.Ebpf.Tests.Kernel;

public sealed class ElfImageTests
{
    [Fact]
    public void GotTargets_SqliteCallingItsOwnExports_SlotsLeadToTheExportedFunctions()
    {
        Requires.Linux();
        var sqlite = LoadedLibrary.Sqlite;

        var targets = sqlite.Image.GotTargets();

        // e_sqlite3 calls sqlite3_step and sqlite3_free through PLT stubs (objdump: "call <sqlite3_step@plt>"): the
        // first's slot is a JUMP_SLOT relocation, the second's (in .plt.got) a GLOB_DAT one. memcpy is libc's.
        Assert.Contains(sqlite.FileAddressOf("sqlite3_step"), targets.Values);
        Assert.Contains(sqlite.FileAddressOf("sqlite3_free"), targets.Values);
        Assert.All(targets.Values, address => Assert.NotEqual(0UL, address));
        Assert.Equal(targets.Count, targets.Values.Distinct().Count());
    }

    [Fact]
    public void BytesAt_AnExportedFunction_StartsWithItsFirstInstructionBytesInTheProcess()
    {
        Requires.Linux();
        var sqlite = LoadedLibrary.Sqlite;
        var start = sqlite.FileAddressOf("sqlite3_step");

        var bytes = sqlite.Image.BytesAt(start);

        Assert.True(bytes.Length > 16);
        Assert.Equal(ReadProcessMemory(start + sqlite.LoadBias, 16), bytes[..16].ToArray());
        Assert.True(sqlite.Image.BytesAt(0xffff_ffff_0000).IsEmpty);
    }

    private static unsafe byte[] ReadProcessMemory(ulong address, int length) => new ReadOnlySpan<byte>((void*)address, length).ToArray();
}
