using System.Text.RegularExpressions;
using IoTrace.DTrace.Script;
using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.Script;

public sealed partial class SyscallProviderScriptTests
{
    public static TheoryData<string> Platforms => [.. DTracePlatform.All.Select(static p => p.Name)];

    /// <summary>
    /// Each platform's whole script for fixed inputs, against the file kept beside this test: a change to the D a
    /// platform runs shows in review as a change to that file. Set IOTRACE_UPDATE_GOLDEN=1 to rewrite the files.
    /// </summary>
    [Theory]
    [MemberData(nameof(Platforms))]
    public void Generate_FixedInputs_MatchesThePlatformsGoldenScript(string name)
    {
        var script = SyscallProviderScript.Generate(Platform(name), 4242, 0x10000, Strategy.All);

        var golden = Path.Combine(ThisFolder(), "Golden", $"{name}-syscall.d");
        if (Environment.GetEnvironmentVariable("IOTRACE_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(golden, script);
        }

        Assert.True(File.Exists(golden), $"{golden} is missing: IOTRACE_UPDATE_GOLDEN=1 writes it");
        Assert.Equal(File.ReadAllText(golden), script);
    }

    /// <summary>
    /// This platform's dtrace (DTrace for Linux here, macOS's in the workflow) compiles every platform's script
    /// (<c>-e</c>: enable nothing). Its own script's probes must all exist; another platform's are that platform's names,
    /// which <c>-Z</c> lets match nothing, so that its D is compiled all the same.
    /// </summary>
    [Theory]
    [MemberData(nameof(Platforms))]
    public async Task Generate_EachPlatform_ThisPlatformsDTraceCompilesIt(string name)
    {
        Requires.DTraceOnThisPlatform();
        var platform = Platform(name);

        await DTraceCompiler.AssertCompilesAsync(SyscallProviderScript.Generate(platform, Environment.ProcessId, 0x10000, Strategy.All), allowMissingProbes: platform != DTracePlatform.Current);
    }

    /// <summary>A strategy's script enables the probes of the calls it records and every close, and no others.</summary>
    [Fact]
    public void Generate_WriteOnMacOS_EnablesTheWritesAndTheClosesOnly()
    {
        var script = SyscallProviderScript.Generate(DTracePlatform.MacOS, 4242, 0x10000, Strategy.Write);

        var probes = ProbeName().Matches(script).Select(static m => m.Groups[1].Value).ToHashSet();
        Assert.Equal(
            ["close", "close_nocancel", "pwrite", "pwrite_nocancel", "pwritev", "pwritev_nocancel", "sendfile", "sendmsg", "sendmsg_nocancel", "sendto", "sendto_nocancel", "write", "write_nocancel", "writev", "writev_nocancel"],
            probes.Order(StringComparer.Ordinal));
    }

    /// <summary>Where thread ids are shared by slots (macOS), the slot's tid is checked; elsewhere the slot is the thread's own.</summary>
    [Fact]
    public void Generate_SlotOfTheThread_ByEachPlatformsThreadIds()
    {
        Assert.Contains("copyin(0x10000 + (tid & 0xfffff) * 16, 16); self->trace = (this->slot[1] >> 16) == tid ? this->slot[0] : 0;", SyscallProviderScript.Generate(DTracePlatform.MacOS, 1, 0x10000, Strategy.All), StringComparison.Ordinal);
        foreach (var platform in (DTracePlatform[])[DTracePlatform.Linux, DTracePlatform.FreeBsd, DTracePlatform.Illumos])
        {
            Assert.Contains("copyin(0x10000 + tid * 16, 16); self->trace = this->slot[0];", SyscallProviderScript.Generate(platform, 1, 0x10000, Strategy.All), StringComparison.Ordinal);
        }
    }

    /// <summary>Without a slot table every thread of the process is a trace of its own, with context: a recording of what the probes deliver.</summary>
    [Fact]
    public void Generate_WithoutASlotTable_EachThreadIsATraceWithContext()
    {
        var script = SyscallProviderScript.Generate(DTracePlatform.MacOS, 77, 0, Strategy.Read);

        Assert.Contains("/pid == 77/ { self->trace = tid; self->context = 1; }", script, StringComparison.Ordinal);
        Assert.DoesNotContain("copyin(0x", script, StringComparison.Ordinal);
    }

    /// <summary>CPU from vtimestamp where the platform has it; DTrace for Linux has none, and prints "-" for it (unavailable, never 0).</summary>
    [Fact]
    public void Generate_Cpu_FromVtimestampWhereThePlatformHasIt()
    {
        Assert.DoesNotContain("vtimestamp", SyscallProviderScript.Generate(DTracePlatform.Linux, 1, 0x10000, Strategy.All), StringComparison.Ordinal);
        Assert.Contains("printa(\"S %d %s %@d %@d %@d -\\n\", @calls, @bytes, @wall);", SyscallProviderScript.Generate(DTracePlatform.Linux, 1, 0x10000, Strategy.All), StringComparison.Ordinal);
        foreach (var platform in (DTracePlatform[])[DTracePlatform.MacOS, DTracePlatform.FreeBsd, DTracePlatform.Illumos])
        {
            var script = SyscallProviderScript.Generate(platform, 1, 0x10000, Strategy.All);
            Assert.Contains("@ccpu[self->trace, probefunc, this->fd, this->gen, self->path, ustack(40)] = sum(vtimestamp - self->vts);", script, StringComparison.Ordinal);
            Assert.Contains("printa(\"S %d %s %@d %@d %@d %@d\\n\", @calls, @bytes, @wall, @cpu);", script, StringComparison.Ordinal);
        }
    }

    private static DTracePlatform Platform(string name) => DTracePlatform.All.Single(p => p.Name == name);

    private static string ThisFolder([System.Runtime.CompilerServices.CallerFilePath] string file = "") => Path.GetDirectoryName(file)!;

    [GeneratedRegex(@"syscall::(\w+):(?:entry|return)")]
    private static partial Regex ProbeName();
}
