using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf.Kernel;

/// <summary>What the eBPF backend needs from the machine, checked before anything starts, each with the fix.</summary>
[SupportedOSPlatform("linux")]
internal static class Prerequisites
{
    private const int CapSysAdmin = 21;
    private const int CapPerfmon = 38;
    private const int CapBpf = 39;

    /// <summary>Where tracefs may be mounted; the program attaches to raw_syscalls tracepoints there.</summary>
    private static readonly string[] s_tracefs = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

    public const string InstallHint = "install it: apt-get install bpftrace (Debian, Ubuntu), dnf install bpftrace (Fedora, RHEL), pacman -S bpftrace (Arch), apk add bpftrace (Alpine)";

    public static bool Check(out string bpftrace, out string reason)
    {
        bpftrace = string.Empty;
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            reason = $"the eBPF backend's system call table covers x64, not {RuntimeInformation.ProcessArchitecture}";
            return false;
        }

        if (!Privileged())
        {
            reason = "the process is not root and lacks CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN), which loading BPF programs needs";
            return false;
        }

        if (FindBpftrace() is not { } path)
        {
            reason = $"bpftrace is not installed or not on PATH (set IOTRACE_BPFTRACE to its path, or {InstallHint})";
            return false;
        }

        if (!s_tracefs.Any(root => Directory.Exists(Path.Combine(root, "events/raw_syscalls/sys_enter"))))
        {
            reason = "tracefs is not mounted, or the kernel has no raw_syscalls tracepoints (mount -t tracefs nodev /sys/kernel/tracing)";
            return false;
        }

        if (!File.Exists("/sys/kernel/btf/vmlinux"))
        {
            reason = "the kernel has no BTF type information (/sys/kernel/btf/vmlinux), which the program reads the task's CPU time with";
            return false;
        }

        bpftrace = path;
        reason = string.Empty;
        return true;
    }

    private static bool Privileged()
    {
        if (LibcInterop.GetEuid() == 0)
        {
            return true;
        }

        var effective = EffectiveCapabilities();
        return Has(effective, CapSysAdmin) || (Has(effective, CapBpf) && Has(effective, CapPerfmon));

        static bool Has(ulong set, int capability) => (set & (1UL << capability)) != 0;
    }

    private static ulong EffectiveCapabilities()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("CapEff:", StringComparison.Ordinal)
                    && ulong.TryParse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var caps))
                {
                    return caps;
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    private static string? FindBpftrace()
    {
        if (Environment.GetEnvironmentVariable("IOTRACE_BPFTRACE") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : null;
        }

        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
        {
            if (directory.Length > 0 && Path.Combine(directory, "bpftrace") is var candidate && File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
