namespace IoTrace.Platform.Linux;

/// <summary>Which CPUs a thread may run on (<c>sched_getaffinity</c>, <c>sched_setaffinity</c>), as CPU numbers.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static unsafe class CpuAffinity
{
    // 1,024 CPUs, as glibc's cpu_set_t.
    private const int MaskBytes = 128;

    /// <summary>The CPUs thread <paramref name="tid"/> (0: the calling one) may run on; null where they cannot be read.</summary>
    public static int[]? Of(int tid)
    {
        var mask = stackalloc byte[MaskBytes];
        if (LibcInterop.SchedGetAffinity(tid, MaskBytes, mask) != 0)
        {
            return null;
        }

        var cpus = new List<int>();
        for (var cpu = 0; cpu < MaskBytes * 8; cpu++)
        {
            if ((mask[cpu / 8] & (1 << (cpu % 8))) != 0)
            {
                cpus.Add(cpu);
            }
        }

        return [.. cpus];
    }

    /// <summary>Puts thread <paramref name="tid"/> (0: the calling one) on <paramref name="cpus"/>; false if the kernel refuses (errno kept).</summary>
    public static bool TrySet(int tid, ReadOnlySpan<int> cpus)
    {
        var mask = stackalloc byte[MaskBytes];
        new Span<byte>(mask, MaskBytes).Clear();
        foreach (var cpu in cpus)
        {
            mask[cpu / 8] |= (byte)(1 << (cpu % 8));
        }

        return LibcInterop.SchedSetAffinity(tid, MaskBytes, mask) == 0;
    }
}
