using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;
using Xunit;

namespace IoTrace.Symbols.Tests.Native;

public sealed class ReadyToRunFramesTests
{
    [Fact]
    public void TryRead_PushesAndAllocationWithoutFrameRegister_CfaOffsetIsTheirSizePlusTheReturnAddress()
    {
        // Version 1, prolog of 8 bytes, 3 codes, no frame register; in reverse prolog order: sub rsp, 32; push rbx; push r14.
        byte[] info = [0x01, 0x08, 0x03, 0x00, 0x08, 0x32, 0x04, 0x30, 0x02, 0xE0, 0x00, 0x00];

        Assert.True(ReadyToRunFrames.TryRead(info, out var cfaOffset));
        Assert.Equal(8 + 32 + 8 + 8, cfaOffset);
    }

    [Fact]
    public void TryRead_LargeAllocations_BothEncodings()
    {
        // alloc of 0x1000 / 8 in the next slot; alloc of 0x12340 in the next two slots.
        byte[] scaled = [0x01, 0x07, 0x02, 0x00, 0x07, 0x01, 0x00, 0x02];
        byte[] full = [0x01, 0x0B, 0x03, 0x00, 0x0B, 0x11, 0x40, 0x23, 0x01, 0x00, 0x00, 0x00];

        Assert.Equal((true, 8 + 0x1000), (ReadyToRunFrames.TryRead(scaled, out var a), a));
        Assert.Equal((true, 8 + 0x12340), (ReadyToRunFrames.TryRead(full, out var b), b));
    }

    [Theory]
    [InlineData(new byte[] { 0x01, 0x04, 0x02, 0x05, 0x04, 0x03, 0x01, 0x50 })] // push rbp; mov rbp, rsp: rbp is the frame register
    [InlineData(new byte[] { 0x01, 0x02, 0x01, 0x00, 0x02, 0x50 })] // push rbp without a frame register: rbp used as a register
    [InlineData(new byte[] { 0x21, 0x02, 0x01, 0x00, 0x02, 0x30 })] // chained to another function's information (a funclet)
    public void TryRead_FrameRegisterSavedRbpOrChain_NoRule(byte[] info) =>
        Assert.False(ReadyToRunFrames.TryRead(info, out _));

    [Fact]
    public void TryOpen_CoreLibAndAnIlOnlyAssembly_FunctionsOnlyForThePrecompiledOne()
    {
        Assert.NotNull(ReadyToRunFrames.TryOpen(typeof(object).Assembly.Location));
        Assert.Null(ReadyToRunFrames.TryOpen(typeof(ReadyToRunFramesTests).Assembly.Location));
    }
}
