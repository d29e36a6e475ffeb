using System.Diagnostics;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests;

/// <summary>The dtrace process never outlives the app, however the app ends. A process of its own: the test kills it.</summary>
public sealed class DTraceProcessExitTests
{
    [Fact]
    public async Task AppKilled_DTraceExitsOnItsOwn()
    {
        Requires.DTrace();
        var host = Process.Start(new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "IoTrace.DTrace.Tests.Host.dll"), "wait"])
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
        })!;
        try
        {
            Assert.Equal("READY", await host.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken));
            var dtrace = Assert.Single(ChildrenOf(host.Id), p => p.ProcessName == "dtrace");

            host.Kill();
            await host.WaitForExitAsync(TestContext.Current.CancellationToken);

            // It disables its probes first: about 20 s.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(120));
            await dtrace.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!host.HasExited)
            {
                host.Kill();
            }

            host.Dispose();
        }
    }

    private static List<Process> ChildrenOf(int pid) =>
        [.. Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(name => int.TryParse(name, out _))
            .Where(name => ParentOf(name!) == pid)
            .Select(name => Process.GetProcessById(int.Parse(name!, System.Globalization.CultureInfo.InvariantCulture)))];

    private static int ParentOf(string pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return -1;
        }
    }
}
