using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;
using Xunit;

namespace IoTrace.Symbols.Tests.Managed;

public sealed class CodeRangeTableTests
{
    private readonly CodeRangeTable _table = new();

    [Fact]
    public void Find_AddressInsideOrOutsideARange_ReturnsItOrNull()
    {
        var code = Add(methodId: 1, start: 0x1000, size: 0x100);

        Assert.Same(code, _table.Find(0x1000));
        Assert.Same(code, _table.Find(0x10ff));
        Assert.Null(_table.Find(0x0fff));
        Assert.Null(_table.Find(0x1100));
    }

    [Fact]
    public void Find_NewerCodeOverlapsOlder_TheNewerWins()
    {
        var older = Add(methodId: 1, start: 0x1000, size: 0x100);
        Assert.Same(older, _table.Find(0x1010)); // published: the older range is in a snapshot now
        var newer = Add(methodId: 2, start: 0x1080, size: 0x20);

        Assert.Null(_table.Find(0x1010)); // the memory was reused: the older method's whole range is gone
        Assert.Same(newer, _table.Find(0x1090));
        Assert.Equal([], _table.FindMethod(1));
    }

    [Fact]
    public void RemoveMethod_RangesPublishedAndQueued_AreGone()
    {
        var published = Add(methodId: 1, start: 0x1000, size: 0x100);
        Assert.Same(published, _table.Find(0x1000));
        Add(methodId: 1, start: 0x3000, size: 0x100); // not looked up yet: still queued
        var other = Add(methodId: 2, start: 0x5000, size: 0x100);

        _table.RemoveMethod(1);

        Assert.Null(_table.Find(0x1000));
        Assert.Null(_table.Find(0x3000));
        Assert.Same(other, _table.Find(0x5000));
    }

    [Fact]
    public void Add_ThousandsWithLookupsBetween_EveryRangeIsFoundOnce()
    {
        var codes = new List<JittedCode>();
        for (var batch = 0; batch < 30; batch++)
        {
            for (var i = 0; i < 100; i++)
            {
                var n = (batch * 100) + i;
                codes.Add(Add(methodId: n, start: 0x10_0000 + ((ulong)((n * 7919) % 3000) * 0x100), size: 0x80));
            }

            Assert.NotNull(_table.Find(codes[^1].Start)); // a publish per batch, as under a trickle of JIT events
        }

        Assert.Equal(3000, _table.Count);
        Assert.All(codes, c => Assert.Same(c, _table.Find(c.Start + 0x40)));
    }

    private JittedCode Add(long methodId, ulong start, uint size)
    {
        var code = new JittedCode(start, size, new JittedMethod(methodId, moduleId: 1, token: 0x06000001, isDynamic: false, "T", "M"), "Optimized", isJitted: true, _table.NextSequence());
        _table.Add(code);
        return code;
    }
}
