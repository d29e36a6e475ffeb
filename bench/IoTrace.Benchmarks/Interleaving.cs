using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IoTrace.Platform.Linux;

namespace IoTrace.Benchmarks;

/// <summary>What the interleaved benchmarks share: pinning the measuring thread, and medians.</summary>
[SupportedOSPlatform("linux")]
internal static class Interleaving
{
    /// <summary>
    /// Runs the calling thread on <paramref name="cpu"/> only (not the threads and processes it starts later), which
    /// removes most of the run-to-run jumps a thread shows as it moves between CPUs; false, said on stderr, if it cannot.
    /// </summary>
    public static bool TryPinCurrentThread(int cpu)
    {
        // 0 is the calling thread.
        if (!CpuAffinity.TrySet(0, [cpu]))
        {
            Console.Error.WriteLine($"cannot pin the measuring thread to CPU {cpu}: errno {Marshal.GetLastPInvokeError()}");
            return false;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"measuring thread pinned to CPU {cpu}"));
        return true;
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
