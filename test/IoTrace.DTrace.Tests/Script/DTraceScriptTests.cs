using System.Diagnostics;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;
using IoTrace.Symbols;
using IoTrace.Symbols.Native;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.Script;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DTraceScriptTests
{
    /// <summary>The script allows probes that match nothing (an older kernel's missing call): here, none may be missing.</summary>
    [Fact]
    public void Generate_EverySystemCall_IsATracepointOfThisKernel()
    {
        Requires.DTrace();

        var missing = LinuxSyscalls.X64.Select(s => s.TracepointName).Distinct()
            .Where(name => !Directory.Exists($"/sys/kernel/tracing/events/syscalls/sys_enter_{name}"));

        Assert.Empty(missing);
    }

    [Fact]
    public async Task Generate_ForThisProcess_DTraceCompilesIt()
    {
        Requires.DTrace();
        var path = Path.Combine(Path.GetTempPath(), $"iotrace-script-test-{Guid.NewGuid():N}.d");
        var libc = LibcUnwindTable.Load(ProcessMaps.Self);
        await File.WriteAllTextAsync(path, DTraceScript.Generate(Environment.ProcessId, 0x10000, libc, LibcRuleTable.Shared(libc), RuntimeCode.Of(ProcessMaps.Executable())), TestContext.Current.CancellationToken);
        try
        {
            // -e: compile, enable nothing.
            using var dtrace = Process.Start(new ProcessStartInfo("dtrace", ["-e", "-s", path]) { RedirectStandardError = true })!;
            var errors = await dtrace.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await dtrace.WaitForExitAsync(TestContext.Current.CancellationToken);

            Assert.True(dtrace.ExitCode == 0, errors);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Generate_LibcSites_EachInTheWalksTable()
    {
        Requires.Linux();
        var libc = LibcUnwindTable.Load(ProcessMaps.Self);

        var script = DTraceScript.Generate(42, 0x10000, libc, rules: null, runtime: new RuntimeCode([], []));

        Assert.NotEmpty(libc.Sites);
        Assert.All(libc.Sites, site => Assert.Contains($"cfa[0x{site.Ip:x}] = {site.CfaOffset}; savedrbp[0x{site.Ip:x}] = {site.RbpOffset};", script, StringComparison.Ordinal));
        Assert.Contains("/pid == 42/", script, StringComparison.Ordinal);
    }

    /// <summary>A Summary call's caller is checked for the runtime's code on every probe but the socket calls'.</summary>
    [Fact]
    public void Generate_RuntimeCheck_SkipsTheSocketCalls()
    {
        Requires.Linux();
        var libc = LibcUnwindTable.Load(ProcessMaps.Self);

        var script = DTraceScript.Generate(42, 0x10000, libc, rules: null, runtime: RuntimeCode.Of(ProcessMaps.Executable()));

        var check = Assert.Single(script.Split('\n'), static l => l.Contains("this->ret = ", StringComparison.Ordinal));
        var probes = check[..check.IndexOf(" /", StringComparison.Ordinal)].Split(", ").Select(static p => p.Split(':')[2]).ToHashSet();
        var expected = LinuxSyscalls.X64.Where(static c => !c.IsSocketOnly).Select(static c => c.TracepointName).ToHashSet();
        Assert.Equal(expected.Order(StringComparer.Ordinal), probes.Order(StringComparer.Ordinal));
        Assert.DoesNotContain("recvfrom", probes);
    }

    /// <summary>A shared connection's socket is counted on its reads and writes outside traces, never on its setup calls.</summary>
    [Fact]
    public void Generate_SharedConnectionClause_OnTheReadsAndWritesOnAnFdOnly()
    {
        Requires.Linux();
        var libc = LibcUnwindTable.Load(ProcessMaps.Self);

        var script = DTraceScript.Generate(42, 0x10000, libc, rules: null, runtime: new RuntimeCode([], []));

        var clause = Assert.Single(script.Split('\n'), static l => l.Contains("self->shared = 1", StringComparison.Ordinal));
        var probes = clause[..clause.IndexOf(" /", StringComparison.Ordinal)].Split(", ").Select(static p => p.Split(':')[2]).ToHashSet();
        Assert.Contains("recvfrom", probes);
        Assert.Contains("sendto", probes);
        Assert.Contains("writev", probes);
        Assert.DoesNotContain("connect", probes);
        Assert.DoesNotContain("getpeername", probes);
        Assert.DoesNotContain("close", probes);
        Assert.Contains($"arg0 == {DTraceScript.SharedOption}/ {{ shared[(int)arg1] = (int64_t)arg2;", script, StringComparison.Ordinal);
    }
}
