using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;

namespace IoTrace.Benchmarks;

/// <summary>
/// <see cref="MiddlewareRequest"/> for a shared, noisy machine: one process runs a request through each configuration
/// in rounds, none first in each round, and gives per configuration the median over rounds of (configuration - none)
/// in ns per request (the median of 400 batches of 8 requests each) and the bytes it allocates more per request, on an
/// endpoint without IO and on one that reads a 100-byte file; each strategy also with its report left unlogged (below
/// <c>MinimumCalls</c>), which tells the report's log event and table from the tracing; and ASP.NET Core's HttpLogging
/// alone, as the load benchmark's peer is set up:
/// <c>DOTNET_TC_CallCountingDelayMs=0 dotnet run -c Release --project bench/IoTrace.Benchmarks -- middleware-interleaved [rounds] [cpu]</c>
/// (without the variable the JIT's tiering goes on into the measured rounds).
/// </summary>
[SupportedOSPlatform("linux")]
internal static class MiddlewareInterleaved
{
    public const string Command = "middleware-interleaved";

    private const int Requests = 8;
    private const int Batches = 400;

    // "not logged": traced, the report made, but below MinimumCalls, so neither logged nor rendered.
    private static readonly string[] s_configurations = ["none", "Summary", "Summary, not logged", "All", "All, not logged", "HttpLogging"];

    public static int Run(int rounds, int? cpu = null)
    {
        if (cpu is { } pinned && !Interleaving.TryPinCurrentThread(pinned))
        {
            return 1;
        }

        var file = Path.Combine(Path.GetTempPath(), $"iotrace-middleware-interleaved-{Environment.ProcessId}.bin");
        File.WriteAllBytes(file, new byte[100]);
        var pipelines = new List<(string Name, MiddlewarePipeline Pipeline)>();
        try
        {
            foreach (var readsFile in (ReadOnlySpan<bool>)[false, true])
            {
                foreach (var configuration in s_configurations)
                {
                    pipelines.Add(($"{configuration}{(readsFile ? " + file read" : string.Empty)}", Create(configuration, readsFile ? file : null)));
                }
            }

            var nanoseconds = pipelines.ToDictionary(static p => p.Name, static _ => new List<double>());
            var allocated = pipelines.ToDictionary(static p => p.Name, static _ => new List<double>());
            for (var round = 0; round <= rounds; round++)
            {
                foreach (var (name, pipeline) in pipelines)
                {
                    var (ns, bytes) = Measure(pipeline);
                    if (round > 0)
                    {
                        // Round 0 warms up: the JIT's tiers, the PDB reads, the pools.
                        nanoseconds[name].Add(ns);
                        allocated[name].Add(bytes);
                    }
                }
            }

            Console.WriteLine("| Configuration | ns per request | over none | its range over rounds | bytes allocated | over none |");
            Console.WriteLine("| --- | ---: | ---: | --- | ---: | ---: |");
            foreach (var (name, _) in pipelines)
            {
                var baseline = name.EndsWith(" + file read", StringComparison.Ordinal) ? "none + file read" : "none";
                var over = nanoseconds[name].Zip(nanoseconds[baseline], static (a, b) => a - b).ToList();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {Interleaving.Median(nanoseconds[name]):F0} | {Interleaving.Median(over):+0;-0} | {over.Min():+0;-0} to {over.Max():+0;-0} | {Interleaving.Median(allocated[name]):F0} | {Interleaving.Median(allocated[name]) - Interleaving.Median(allocated[baseline]):+0;-0} |"));
            }

            return 0;
        }
        finally
        {
            foreach (var (_, pipeline) in pipelines)
            {
                pipeline.Dispose();
            }

            File.Delete(file);
        }
    }

    /// <summary>A configuration's pipeline: "X, not logged" is strategy X with its report below <c>MinimumCalls</c>.</summary>
    private static MiddlewarePipeline Create(string configuration, string? file) =>
        configuration.EndsWith(", not logged", StringComparison.Ordinal)
            ? MiddlewarePipeline.ForConfiguration(configuration.Split(',')[0], file, new() { ["IoTrace:MinimumCalls"] = "1000000" })
            : MiddlewarePipeline.ForConfiguration(configuration, file);

    /// <summary>The median ns per request over the batches, and the bytes allocated per request.</summary>
    private static (double Nanoseconds, double Bytes) Measure(MiddlewarePipeline pipeline)
    {
        var perBatch = new double[Batches];
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (var batch = 0; batch < Batches; batch++)
        {
            var start = Stopwatch.GetTimestamp();
            for (var request = 0; request < Requests; request++)
            {
                pipeline.Invoke("/bench");
            }

            perBatch[batch] = Stopwatch.GetElapsedTime(start).TotalNanoseconds / Requests;
        }

        return (Interleaving.Median(perBatch), (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / (double)(Batches * Requests));
    }
}
