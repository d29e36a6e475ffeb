using System.Buffers.Binary;
using IoTrace.Symbols.Native;
using Xunit;

namespace IoTrace.Symbols.Tests.Native;

/// <summary>
/// The CFA interpreter on hand-written instruction sequences, in the shapes GCC emits for glibc's wrappers (the real
/// libc is checked against readelf in <see cref="LibcUnwindTableTests"/>).
/// </summary>
public sealed class DwarfCfaTests
{
    // The CIE of x86_64 code: CFA = rsp + 8, return address at CFA - 8; code alignment 1, data alignment -8.
    private static readonly byte[] s_cieInstructions = [0x0c, 0x07, 0x08, 0x90, 0x01];

    private const ulong FunctionStart = 0x40_0000;

    [Fact]
    public void RowAt_PrologueOfPushesAndSub_GivesEachInstructionsRow()
    {
        // push rbp (1 byte); push rbx (1); sub $0x68, rsp (4): open64's prologue.
        var cfa = Interpreter(
            0x41, 0x0e, 0x10, 0x86, 0x02, // advance 1; CFA = rsp + 16; rbp at CFA - 16
            0x41, 0x0e, 0x18, 0x83, 0x03, // advance 1; CFA = rsp + 24; rbx at CFA - 24
            0x44, 0x0e, 0x80, 0x01);      // advance 4; CFA = rsp + 128

        Assert.Equal(Row(8, default), cfa.RowAt(FunctionStart));
        Assert.Equal(Row(16, RegisterRule.AtCfa(-16)), cfa.RowAt(FunctionStart + 1));
        Assert.Equal(Row(24, RegisterRule.AtCfa(-16)), cfa.RowAt(FunctionStart + 5));
        Assert.Equal(Row(128, RegisterRule.AtCfa(-16)), cfa.RowAt(FunctionStart + 6));
        Assert.Equal(Row(128, RegisterRule.AtCfa(-16)), cfa.RowAt(FunctionStart + 0xff));
    }

    [Fact]
    public void RowAt_AfterAnEarlyReturn_RestoresTheRememberedRow()
    {
        // The epilogue of an early return in the middle of a function, then the code after it.
        var cfa = Interpreter(
            0x41, 0x0e, 0x10, 0x86, 0x02, // advance 1; CFA = rsp + 16; rbp at CFA - 16
            0x4f, 0x0a,                   // advance 15; remember
            0x0e, 0x08, 0xc6,             // CFA = rsp + 8; rbp restored
            0x41, 0x0b);                  // advance 1 (the ret); restore the remembered row

        Assert.Equal(Row(8, default), cfa.RowAt(FunctionStart + 0x10));
        Assert.Equal(Row(16, RegisterRule.AtCfa(-16)), cfa.RowAt(FunctionStart + 0x11));
    }

    [Fact]
    public void RowAt_AdvanceLoc1AndOffsetExtendedSf_AreApplied()
    {
        var cfa = Interpreter(
            0x02, 0x20,                   // advance_loc1 32
            0x0e, 0x30,                   // CFA = rsp + 48
            0x11, 0x06, 0x7e);            // rbp at CFA + 16 (sleb -2 times the data alignment -8)

        Assert.Equal(Row(8, default), cfa.RowAt(FunctionStart + 0x1f));
        Assert.Equal(Row(48, RegisterRule.AtCfa(16)), cfa.RowAt(FunctionStart + 0x20));
    }

    [Fact]
    public void RowAt_CfaFromAnExpression_IsMarkedAsSuch()
    {
        var cfa = Interpreter(0x41, 0x0f, 0x02, 0x77, 0x08); // advance 1; DW_CFA_def_cfa_expression { breg7 +8 }

        Assert.True(cfa.RowAt(FunctionStart + 1).CfaIsExpression);
        Assert.False(cfa.RowAt(FunctionStart).CfaIsExpression);
    }

    [Fact]
    public void RowAt_UnknownInstruction_Throws()
    {
        var cfa = Interpreter(0x3f);

        Assert.Throws<InvalidDataException>(() => cfa.RowAt(FunctionStart));
    }

    private static CfaRow Row(long cfaOffset, RegisterRule rbp) =>
        new(DwarfCfa.Rsp, cfaOffset, false, rbp, RegisterRule.AtCfa(-8));

    /// <summary>A minimal ELF file whose one loaded segment holds the CIE's and the FDE's instructions.</summary>
    private static DwarfCfa Interpreter(params byte[] fdeInstructions)
    {
        const ulong segmentAddress = 0x1_0000;
        const int cieAt = 0x100;
        const int fdeAt = 0x180;
        var bytes = new byte[0x200];
        "\u007fELF"u8.CopyTo(bytes);
        bytes[4] = 2; // 64-bit
        bytes[5] = 1; // little-endian
        bytes[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(18), 62); // x86_64
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(32), 64); // program headers right after
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(54), 56);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(56), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(64), 1); // PT_LOAD
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(68), 4); // PF_R
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(80), segmentAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(96), (ulong)bytes.Length);
        s_cieInstructions.CopyTo(bytes, cieAt);
        fdeInstructions.CopyTo(bytes, fdeAt);

        var cie = new Cie(1, -8, DwarfCfa.ReturnAddress, 0x1b, true, segmentAddress + cieAt, segmentAddress + cieAt + (ulong)s_cieInstructions.Length);
        var fde = new Fde(FunctionStart, FunctionStart + 0x100, cie, segmentAddress + fdeAt, segmentAddress + fdeAt + (ulong)fdeInstructions.Length);
        return new DwarfCfa(ElfImage.Parse(bytes), fde);
    }
}
