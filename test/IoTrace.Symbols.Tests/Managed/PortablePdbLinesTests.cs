using System.Diagnostics;
using System.Runtime.CompilerServices;
using IoTrace.Symbols.Managed;
using Xunit;

namespace IoTrace.Symbols.Tests.Managed;

public sealed class PortablePdbLinesTests
{
    [Fact]
    public void TryGetLine_ILOffsetOfStackFrame_ReturnsTheFramesLine()
    {
        using var lines = new PortablePdbLines();
        var (frame, callLine) = FrameOfThisCall();

        Assert.True(lines.TryGetLine(frame.GetMethod()!, frame.GetILOffset(), out var file, out var line));

        Assert.Equal(frame.GetFileName(), file);
        Assert.Equal(frame.GetFileLineNumber(), line);
        Assert.Equal(callLine, line);
    }

    [Fact]
    public void TryGetLine_NegativeILOffset_ReturnsFalse()
    {
        using var lines = new PortablePdbLines();
        var method = typeof(PortablePdbLinesTests).GetMethod(nameof(TryGetLine_NegativeILOffset_ReturnsFalse))!;

        Assert.False(lines.TryGetLine(method, -2, out var file, out _));
        Assert.Null(file);
    }

    [Fact]
    public void GetMethodLines_AssemblyWithoutPdb_ReturnsNull()
    {
        using var lines = new PortablePdbLines();
        var path = Path.Combine(Path.GetTempPath(), $"iotrace-no-such-{Guid.NewGuid():N}.dll");

        Assert.Null(lines.GetMethodLines(path, 0x06000001));
    }

    [Fact]
    public void GetMethodLines_SameMethodTwice_ReturnsTheCachedTable()
    {
        using var lines = new PortablePdbLines();
        var method = typeof(PortablePdbLinesTests).GetMethod(nameof(GetMethodLines_SameMethodTwice_ReturnsTheCachedTable))!;
        var path = method.Module.Assembly.Location;

        var first = lines.GetMethodLines(path, method.MetadataToken);

        Assert.NotNull(first);
        Assert.Same(first, lines.GetMethodLines(path, method.MetadataToken));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (StackFrame Frame, int Line) FrameOfThisCall()
    {
        return (CallerFrame(), LineHere()); // the frame's line
    }

    private static int LineHere([CallerLineNumber] int line = 0) => line;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static StackFrame CallerFrame() => new StackTrace(1, fNeedFileInfo: true).GetFrame(0)!;
}
