using System.Diagnostics;
using IoTrace.Ebpf.Kernel;
using IoTrace.Testing;
using Xunit;

namespace IoTrace.Ebpf.Tests.Kernel;

public sealed class BpftraceScriptTests
{
    [Fact]
    public void Build_EveryPlaceholder_IsReplaced()
    {
        var script = BpftraceScript.Build();

        Assert.DoesNotContain("%", script.Replace("%d", "", StringComparison.Ordinal).Replace("%llu", "", StringComparison.Ordinal), StringComparison.Ordinal);
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
}
