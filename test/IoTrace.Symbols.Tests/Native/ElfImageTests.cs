using IoTrace.Symbols.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Symbols.Tests.Native;

public sealed class ElfImageTests
{
    [Fact]
    public void GotSlots_Sqlite_OwnExportsByAddressAndLibcImportsByName()
    {
        Requires.Linux();
        var sqlite = LoadedLibrary.Sqlite;

        var slots = sqlite.Image.GotSlots();

        // e_sqlite3 calls sqlite3_step and sqlite3_free through PLT stubs (objdump: "call <sqlite3_step@plt>"): the
        // first's slot is a JUMP_SLOT relocation, the second's (in .plt.got) a GLOB_DAT one. Its table of system calls
        // holds libc's pread64 (an R_X86_64_64 relocation), and posixOpen calls open64 through the PLT.
        Assert.Contains(sqlite.FileAddressOf("sqlite3_step"), slots.Defined.Values);
        Assert.Contains(sqlite.FileAddressOf("sqlite3_free"), slots.Defined.Values);
        Assert.Contains("pread64", slots.Imported.Values);
        Assert.Contains("open64", slots.Imported.Values);
        Assert.DoesNotContain("sqlite3_step", slots.Imported.Values);
        Assert.Empty(slots.Defined.Keys.Intersect(slots.Imported.Keys));
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
