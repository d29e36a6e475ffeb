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

    public static bool Check(out KernelTracepoints tracepoints, out string how, out string reason)
    {
        tracepoints = KernelProbes.Choose(out how);
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

        if (!Libbpf.TryBind(out reason))
        {
            return false;
        }

        if (!KernelProbes.IsBuilt(tracepoints))
        {
            reason = "IoTrace.Ebpf was built without its kernel program: clang, bpftool or the kernel's BTF was missing on the build machine (apt-get install clang bpftool libbpf-dev, then build again)";
            return false;
        }

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
}
