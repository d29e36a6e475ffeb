using System.Diagnostics;
using System.Globalization;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests;

/// <summary>bpftrace is a child of the traced process; it must not outlive it, even when the process never disposes.</summary>
public sealed class EbpfProcessExitTests
{
    [Fact]
    public async Task ProcessKilled_WithoutDispose_LeavesNoBpftraceBehind()
    {
        Requires.Ebpf();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "IoTrace.Ebpf.Tests.Host.dll"));
        using var host = Process.Start(info)!;
        var ready = await host.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken);
        Assert.Equal("READY", ready);
        var bpftrace = Assert.Single(ChildrenOf(host.Id), p => p.ProcessName == "bpftrace");

        host.Kill(); // SIGKILL: no ProcessExit handler, no Dispose
        await host.WaitForExitAsync(TestContext.Current.CancellationToken);

        // The program's sched_process_exit probe for the host's pid ends bpftrace (failing that, its next print into the closed pipe).
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await bpftrace.WaitForExitAsync(timeout.Token);
        Assert.True(bpftrace.HasExited);
    }

    private static List<Process> ChildrenOf(int pid)
    {
        var children = new List<Process>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var candidate))
            {
                continue;
            }

            try
            {
                // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == pid)
                {
                    children.Add(Process.GetProcessById(candidate));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // The process ended meanwhile.
            }
        }

        return children;
    }
}
