using System.Globalization;
using System.Text.RegularExpressions;
using IoTrace.DTrace.Script;
using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Platform.Linux;
using IoTrace.Symbols;
using IoTrace.Symbols.Native;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.Script;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DTraceScriptTests
{
    /// <summary>Every counted call is known to the script by its number: its bits and its index in the table.</summary>
    [Fact]
    public void Generate_EveryCountedCall_HasItsBitsAndIndexByNumber()
    {
        Requires.Linux();
        var libc = LibcUnwindTable.Load(ProcessMaps.Self);

        var script = DTraceScript.Generate(42, 0x10000, LibcRuleTable.SystemCallSites(libc), rules: null, runtime: new RuntimeCode([], []));

        var bits = BitsByNumber(script);
        Assert.Equal(LinuxSyscalls.X64.Count, bits.Count);
        for (var i = 0; i < LinuxSyscalls.X64.Count; i++)
        {
            var call = LinuxSyscalls.X64[i];
            Assert.Equal(DTraceScript.BitsOf(call), bits[call.Number]);
            Assert.Contains($"call[{call.Number}] = {i};", script, StringComparison.Ordinal);
        }
    }

    /// <summary>Two probes, whatever the table holds: the kernel loads and verifies one program per probe.</summary>
    [Fact]
    public void Generate_SystemCallClauses_OnTheRawTracepointsOnly()
    {
        Requires.Linux();
        var libc = LibcUnwindTable.Load(ProcessMaps.Self);

        var script = DTraceScript.Generate(42, 0x10000, LibcRuleTable.SystemCallSites(libc), LibcRuleTable.Shared(libc), RuntimeCode.Of(ProcessMaps.Executable()));

        var probes = script.Split('\n').Where(static l => l.Contains(" /", StringComparison.Ordinal) && !l.StartsWith(' '))
            .Select(static l => l[..l.IndexOf(" /", StringComparison.Ordinal)]).ToHashSet();
        Assert.Equal(["proc:::exit", "sdt:raw_syscalls::sys_enter", "sdt:raw_syscalls::sys_exit"], probes.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Every system call of every process on the machine runs each clause on the two tracepoints, if only to test its
    /// predicate (about 8 ns a clause, bench/dtrace/clause-cost.sh): the script keeps them few.
    /// </summary>
    [Fact]
    public void Generate_WithEveryRule_TwelveClausesOnEntryFourteenOnReturn()
    {
        Requires.Linux();
        var libc = LibcUnwindTable.Load(ProcessMaps.Self);

        var script = DTraceScript.Generate(42, 0x10000, LibcRuleTable.SystemCallSites(libc), LibcRuleTable.Shared(libc), RuntimeCode.Of(ProcessMaps.Executable()));

        var clauses = script.Split('\n').Where(static l => l.StartsWith("sdt:raw_syscalls::", StringComparison.Ordinal)).ToList();
        Assert.Equal(12, clauses.Count(static l => l.StartsWith("sdt:raw_syscalls::sys_enter ", StringComparison.Ordinal)));
        Assert.Equal(14, clauses.Count(static l => l.StartsWith("sdt:raw_syscalls::sys_exit ", StringComparison.Ordinal)));
    }

    /// <summary>
    /// The whole script for fixed inputs, against the file kept beside this test: a change to the D the backend runs
    /// shows in review as a change to that file. The two rule tables' addresses (native memory) are written as names.
    /// Set IOTRACE_UPDATE_GOLDEN=1 to rewrite the file from the generator.
    /// </summary>
    [Fact]
    public void Generate_FixedInputs_MatchesTheGoldenScript()
    {
        Requires.Linux();
        var sites = LibcRuleTable.Create([(0x7f00_0001_0000UL, new UnwindRule(16, 0, false)), (0x7f00_0001_0100UL, new UnwindRule(32, 16, false))]);
        var rules = LibcRuleTable.Create([(0x7f00_0002_0000UL, new UnwindRule(24, 16, true))]);
        var runtime = new RuntimeCode([(0x7f00_0000_0000UL, 0x7f00_0020_0000UL)], [(0x7f10_0000_0000UL, 0x7f10_0040_0000UL)]);

        var script = DTraceScript.Generate(4242, 0x10000, sites, rules, runtime)
            .Replace($"0x{sites.Address:x}", "SITES", StringComparison.Ordinal).Replace($"0x{sites.Displacements:x}", "SITE_GROUPS", StringComparison.Ordinal)
            .Replace($"0x{rules.Address:x}", "RULES", StringComparison.Ordinal).Replace($"0x{rules.Displacements:x}", "RULE_GROUPS", StringComparison.Ordinal);

        var golden = Path.Combine(ThisFolder(), "Golden", "linux-x64.d");
        if (Environment.GetEnvironmentVariable("IOTRACE_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(golden, script);
        }

        Assert.True(File.Exists(golden), $"{golden} is missing: IOTRACE_UPDATE_GOLDEN=1 writes it");
        Assert.Equal(File.ReadAllText(golden), script);
    }

    private static string ThisFolder([System.Runtime.CompilerServices.CallerFilePath] string file = "") => Path.GetDirectoryName(file)!;

    [Fact]
    public async Task Generate_ForThisProcess_DTraceCompilesIt()
    {
        Requires.DTrace();
        var libc = LibcUnwindTable.Load(ProcessMaps.Self);

        await DTraceCompiler.AssertCompilesAsync(DTraceScript.Generate(Environment.ProcessId, 0x10000, LibcRuleTable.SystemCallSites(libc), LibcRuleTable.Shared(libc), RuntimeCode.Of(ProcessMaps.Executable())));
    }

    /// <summary>The walk's first step, out of libc's wrapper, finds every site's rule in the table the script reads.</summary>
    [Fact]
    public void Generate_LibcSites_EachInTheWalksTable()
    {
        Requires.Linux();
        var libc = LibcUnwindTable.Load(ProcessMaps.Self);
        var sites = LibcRuleTable.SystemCallSites(libc);

        var script = DTraceScript.Generate(42, 0x10000, sites, rules: null, runtime: new RuntimeCode([], []));

        Assert.NotEmpty(libc.Sites);
        Assert.Equal(libc.Sites.DistinctBy(static s => s.Ip).Count(), sites.Count);
        Assert.All(libc.Sites, site => Assert.True(sites.TryFind(site.Ip, out var packed) && packed == site.Packed, $"0x{site.Ip:x}"));
        Assert.Contains($"copyin(0x{sites.Address:x} + (((uregs[R_PC] + this->e[0])", script, StringComparison.Ordinal);
        Assert.Contains("/pid == 42/", script, StringComparison.Ordinal);
    }

    /// <summary>A Summary call's caller is checked for the runtime's code on every call but the socket calls.</summary>
    [Fact]
    public void Generate_RuntimeCheck_SkipsTheSocketCalls()
    {
        Requires.Linux();
        var libc = LibcUnwindTable.Load(ProcessMaps.Self);

        var script = DTraceScript.Generate(42, 0x10000, LibcRuleTable.SystemCallSites(libc), rules: null, runtime: RuntimeCode.Of(ProcessMaps.Executable()));

        var check = Assert.Single(script.Split('\n'), static l => l.Contains("this->ret = ", StringComparison.Ordinal));
        Assert.Equal(["access", "close", "openat", "pread64", "read"], CallsTested(script, check, ["read", "pread64", "openat", "close", "access", "recvfrom", "sendto", "connect"]));
        Assert.All(LinuxSyscalls.X64, static c => Assert.Equal(!c.IsSocketOnly, DTraceScript.BitsOf(c).HasFlag(DTraceScript.Bits.RuntimeCheck)));
    }

    /// <summary>A shared connection's socket is counted on its reads and writes outside traces, never on its setup calls.</summary>
    [Fact]
    public void Generate_SharedConnectionClause_OnTheReadsAndWritesOnAnFdOnly()
    {
        Requires.Linux();
        var libc = LibcUnwindTable.Load(ProcessMaps.Self);

        var script = DTraceScript.Generate(42, 0x10000, LibcRuleTable.SystemCallSites(libc), rules: null, runtime: new RuntimeCode([], []));

        var clause = Assert.Single(script.Split('\n'), static l => l.Contains("self->shared = 1", StringComparison.Ordinal));
        Assert.Equal(["recvfrom", "sendto", "writev"], CallsTested(script, clause, ["recvfrom", "sendto", "writev", "connect", "getpeername", "close", "openat"]));
        var marking = Assert.Single(script.Split('\n'), static l => l.Contains($"uregs[R_RDI] == {DTraceScript.SharedOption} ", StringComparison.Ordinal));
        Assert.Contains("{ shared[(int)uregs[R_RSI]] = (int64_t)uregs[R_RDX]; sharedcount = (int64_t)uregs[R_R10]; }", marking, StringComparison.Ordinal);
    }

    /// <summary>Of <paramref name="names"/>, the calls whose bits pass the one bit test of <paramref name="clause"/>'s predicate.</summary>
    private static string[] CallsTested(string script, string clause, string[] names)
    {
        var test = Regex.Match(clause, @"\(this->s & (\d+)\)");
        Assert.True(test.Success, clause);
        var bit = (DTraceScript.Bits)int.Parse(test.Groups[1].Value, CultureInfo.InvariantCulture);
        var bits = BitsByNumber(script);
        return [.. names.Where(n => (bits[LinuxSyscalls.X64.Single(c => c.Name == n).Number] & bit) != 0).Order(StringComparer.Ordinal)];
    }

    private static Dictionary<int, DTraceScript.Bits> BitsByNumber(string script) =>
        Regex.Matches(script, @"sc\[(\d+)\] = (\d+);").ToDictionary(
            static m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
            static m => (DTraceScript.Bits)int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
}
