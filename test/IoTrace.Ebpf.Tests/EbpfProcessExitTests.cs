using System.Diagnostics;
using System.Globalization;
using IoTrace.Platform.Linux;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests;

/// <summary>The kernel program belongs to the traced process: it must not outlive it, even when the process never disposes.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class EbpfProcessExitTests
{
    private const int BPF_PROG_GET_FD_BY_ID = 13;

    [Fact]
    public async Task ProcessKilled_WithoutDispose_LeavesNoProgramBehind()
    {
        Requires.Ebpf();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "IoTrace.Ebpf.Tests.Host.dll"));
        using var host = Process.Start(info)!;
        var ready = await host.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken);
        Assert.Equal("READY", ready);
        var programs = ProgramIdsOf(host.Id);
        Assert.Equal(2, programs.Count); // sys_enter and sys_exit
        Assert.All(programs, id => Assert.True(Exists(id), $"program {id} is not loaded"));

        host.Kill(); // SIGKILL: no ProcessExit handler, no Dispose
        await host.WaitForExitAsync(TestContext.Current.CancellationToken);

        // The kernel detaches the programs as it closes the process's files, and frees them after an RCU grace period
        // it gives no event for: the test polls, within a bound.
        var deadline = Stopwatch.StartNew();
        while (programs.Any(Exists) && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.All(programs, id => Assert.False(Exists(id), $"program {id} outlived its process by {deadline.Elapsed.TotalSeconds:0} s"));
    }

    /// <summary>The BPF programs a process holds (its program and link fds name them).</summary>
    private static HashSet<long> ProgramIdsOf(int pid)
    {
        var ids = new HashSet<long>();
        foreach (var fdinfo in Directory.EnumerateFiles($"/proc/{pid}/fdinfo"))
        {
            foreach (var line in File.ReadLines(fdinfo))
            {
                if (line.StartsWith("prog_id:", StringComparison.Ordinal))
                {
                    ids.Add(long.Parse(line.AsSpan(8).Trim(), CultureInfo.InvariantCulture));
                }
            }
        }

        return ids;
    }

    private static unsafe bool Exists(long programId)
    {
        var attr = stackalloc ulong[2];
        attr[0] = (ulong)programId;
        attr[1] = 0;
        var fd = LibcInterop.Syscall(LibcInterop.SYS_bpf, BPF_PROG_GET_FD_BY_ID, (nint)attr, 16);
        if (fd < 0)
        {
            return false;
        }

        _ = LibcInterop.Close((int)fd);
        return true;
    }
}
