using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;

namespace IoTrace.Benchmarks;

/// <summary>
/// The in-process backend's per-call cost in each state, for a shared, noisy machine and for comparing two commits:
/// one process measures the states in rounds, untraced first in each round, and gives per state the median over rounds
/// of (state - untraced) in ns per 1-byte <c>pread64</c> of a cached file (the median of 3,000 batches of 64 calls each).
/// To compare commits, build this project in a worktree of each and run the two alternately, several times:
/// <c>dotnet run -c Release --project bench/IoTrace.Benchmarks -- inprocess-interleaved [rounds] [cpu]</c>; with a cpu
/// the measuring thread runs on that CPU only.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class InProcessInterleaved
{
    public const string Command = "inprocess-interleaved";

    private const int Operations = 64;
    private const int Batches = 3000;

    private static readonly string[] s_states = ["Untraced", "OtherFlowTraced", "Summary_NoCpu", "All_NoCpu", "Summary", "All"];

    public static int Run(int rounds, int? cpu = null)
    {
        if (cpu is { } pinned && !Interleaving.TryPinCurrentThread(pinned))
        {
            return 1;
        }

        if (!IoTracer.TryEnable("inprocess", out var reason))
        {
            Console.Error.WriteLine($"the in-process backend cannot run here: {reason}");
            return 1;
        }

        var path = Path.Combine(Path.GetTempPath(), $"iotrace-interleaved-{Environment.ProcessId}.bin");
        File.WriteAllBytes(path, new byte[4096]);
        try
        {
            using var handle = File.OpenHandle(path);
            var noCpu = new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time };
            var withCpu = new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time | IoTraceFeatures.Cpu };
            var overheads = s_states.Select(_ => new List<double>()).ToArray();
            for (var warmUp = 0; warmUp < 3; warmUp++)
            {
                _ = Measure(handle);
                using var scope = IoTracer.Start(Strategy.All, noCpu);
                _ = Measure(handle);
            }

            for (var round = 0; round < rounds; round++)
            {
                var untraced = Measure(handle);
                overheads[0].Add(untraced);
                for (var state = 1; state < s_states.Length; state++)
                {
                    double time;
                    if (s_states[state] == "OtherFlowTraced")
                    {
                        // A trace runs in another flow; this one's calls pass through the hooks untraced.
                        var other = Task.Run(() => IoTracer.Start(Strategy.All)).Result;
                        time = Measure(handle);
                        _ = other.Stop();
                    }
                    else
                    {
                        var strategy = s_states[state].StartsWith("Summary", StringComparison.Ordinal) ? Strategy.Summary : Strategy.All;
                        var scope = IoTracer.Start(strategy, s_states[state].EndsWith("NoCpu", StringComparison.Ordinal) ? noCpu : withCpu);
                        time = Measure(handle);
                        var report = scope.Stop();
                        if (report.TotalCalls < (long)Batches * Operations)
                        {
                            Console.Error.WriteLine($"{s_states[state]}: the trace counted {report.TotalCalls} calls");
                            return 1;
                        }
                    }

                    overheads[state].Add(time - untraced);
                }
            }

            Console.WriteLine($"Per pread64, median over {rounds} rounds (min, max): untraced, then each state minus the same round's untraced");
            for (var state = 0; state < s_states.Length; state++)
            {
                var values = overheads[state];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{s_states[state]}\t{Interleaving.Median(values):0.0} ns\t({values.Min():0.0}, {values.Max():0.0})"));
            }

            return 0;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Median nanoseconds per call over the batches.</summary>
    private static double Measure(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        var buffer = new byte[1];
        var times = new double[Batches];
        for (var b = 0; b < Batches; b++)
        {
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < Operations; i++)
            {
                _ = RandomAccess.Read(handle, buffer, 0);
            }

            times[b] = Stopwatch.GetElapsedTime(start).TotalNanoseconds / Operations;
        }

        return Interleaving.Median(times);
    }
}
