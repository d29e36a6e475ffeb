using IoTrace.DTrace.Script;
using IoTrace.Symbols.Native;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.Script;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class LibcRuleTableTests
{
    [Fact]
    public void Create_LibcsRules_EachFoundWhereTheScriptLooks()
    {
        Requires.Linux();
        var rules = LibcCallerRules.Find(LibcUnwindTable.Load("/proc/self/maps"), LibcCallerRules.AtMost);

        var table = LibcRuleTable.Create(rules);

        Assert.Equal(rules.Count, table.Count);
        Assert.All(rules, r => Assert.Equal((true, r.Rule.Packed), (table.TryFind(r.ReturnAddress, out var packed), packed)));
        Assert.False(table.TryFind(rules.Max(r => r.ReturnAddress) + 1, out _));
    }

    [Fact]
    public void Create_FullerThanDisplacementsCanPlace_LeavesWholeGroupsOut()
    {
        Requires.Linux();

        // Twice as many addresses as places: many groups find no displacement.
        var rules = Enumerable.Range(1, 2 << LibcRuleTable.Bits).Select(i => ((ulong)i * 16, new UnwindRule(16, 0, CfaFromRbp: false))).ToList();
        var table = LibcRuleTable.Create(rules);

        var found = rules.Where(r => table.TryFind(r.Item1, out _)).ToList();
        Assert.Equal(table.Count, found.Count);
        Assert.InRange(table.Count, 1, (1 << LibcRuleTable.Bits) - 1);
        var sizes = rules.CountBy(r => LibcRuleTable.Group(r.Item1)).ToDictionary();
        Assert.All(found.CountBy(r => LibcRuleTable.Group(r.Item1)), g => Assert.Equal(sizes[g.Key], g.Value));
    }
}
