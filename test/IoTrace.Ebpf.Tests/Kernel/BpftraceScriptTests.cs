using System.Diagnostics;
using System.Text.RegularExpressions;
using IoTrace.Ebpf.Kernel;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests.Kernel;

public sealed partial class BpftraceScriptTests
{
    [Fact]
    public void Build_EveryMap_HasANameTheProcessCanFind()
    {
        var script = BpftraceScript.Build(printMaps: true);

        // bpftrace names a map AT_ and its name, and a BPF map's name has 15 characters at most.
        var names = MapName().Matches(script).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        Assert.All(names, name => Assert.True(("AT_" + name).Length <= 15, $"@{name} is longer than a BPF map's name allows"));
        string[] read = [.. BpftraceScript.SummaryMaps, .. BpftraceScript.ContextMaps, BpftraceScript.TargetMap, BpftraceScript.OpenedPathMap,
            BpftraceScript.PeerMap, BpftraceScript.StackMap, BpftraceScript.StackSeenMap, BpftraceScript.PathIdMap, BpftraceScript.ContextUsedMap, BpftraceScript.EventsMap];
        Assert.All(read, map => Assert.All(Enumerable.Range(0, 3), buffer => Assert.Contains($"{map}{buffer}", names)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Build_Script_CompilesAndLoadsInTheKernel(bool printMaps)
    {
        Requires.Ebpf();
        var script = BpftraceScript.Build(LibcUnwindTable.Current, printMaps: printMaps);

        // -d only parses and compiles; attaching (and the verifier) needs a run: exit from BEGIN after loading.
        // With the backend's settings: the string length sizes the programs' stacks (512 bytes at most).
        var info = new ProcessStartInfo("bpftrace") { RedirectStandardOutput = true, RedirectStandardError = true };
        BpftraceProcess.SetEnvironment(info.Environment);
        foreach (var argument in new[] { "-e", script.Replace("printf(\"R\\n\");", "printf(\"R\\n\"); exit();", StringComparison.Ordinal), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), "0", "0" })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);

        Assert.True(process.ExitCode == 0, $"bpftrace rejected the script: {stderr}");
        Assert.Contains("R", await stdout, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"@([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex MapName();
}
