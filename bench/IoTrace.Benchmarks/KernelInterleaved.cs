using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;

namespace IoTrace.Benchmarks;

/// <summary>
/// The per-call cost of a kernel-side backend (eBPF or dtrace), and for eBPF a cross-check of
/// <see cref="EbpfCallOverhead"/>, made for a shared, noisy machine: one process measures the states
/// in rounds, untraced first in each round, so load from other work hits the baseline and the traced states alike.
/// A state's time is the median over batches of 64 operations (Stopwatch around each batch); its overhead is taken
/// against the same round's untraced time, and the table gives the median over rounds.
/// The last state measures an untraced call again once this thread has run traces: the slot table's page that holds
/// this thread's slot has then been written, and the BPF program's reads of it no longer fault.
/// <c>dotnet run -c Release --project bench/IoTrace.Benchmarks -- ebpf-interleaved [rounds] [cpu]</c>, or
/// <c>dtrace-interleaved</c> (which attaches again each round, about 15 s): with a cpu, the
/// measuring thread runs on that CPU only (the backend's threads stay free), which removes most of the
/// run-to-run jumps of about 0.2 us that an unpinned thread shows as it moves between CPUs.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class KernelInterleaved
{
    public const string EbpfCommand = "ebpf-interleaved";
    public const string DTraceCommand = "dtrace-interleaved";

    private const int Operations = 64;
    private const int Batches = 4000;

    private static readonly string[] s_states = ["Untraced", "Attached_NoTrace", "Summary", "All", "Attached_NoTrace_AfterATrace"];

    /// <param name="backend">The backend's name, as reports give it: <c>ebpf</c> or <c>dtrace</c>.</param>
    public static int Run(string backend, int rounds, int? cpu = null)
    {
        if (cpu is { } pinned && !Interleaving.TryPinCurrentThread(pinned))
        {
            return 1;
        }

        using var file = new FileReadOperation();
        using var socket = new SocketRoundTripOperation();
        using var sqlite = new SqliteQueryOperation();
        IIoOperation[] operations = [file, socket, sqlite];
        string[] names = ["File read (pread64)", "Socket call (sendto/recvfrom)", "SQLite query (e_sqlite3's 8 calls)"];

        // [operation][state][round]: nanoseconds per IO call.
        var perCall = new double[operations.Length][][];
        for (var o = 0; o < operations.Length; o++)
        {
            perCall[o] = [.. s_states.Select(_ => new double[rounds])];
            _ = Measure(operations[o], 200); // tiering
        }

        for (var round = 0; round < rounds; round++)
        {
            for (var state = 0; state < s_states.Length; state++)
            {
                IoTraceScope? scope = null;
                if (state == 1)
                {
                    if (!KernelBenchBackend.TryAttach(backend, out var reason))
                    {
                        Console.Error.WriteLine($"the {backend} backend cannot run here: {reason}");
                        return 1;
                    }
                }

                for (var o = 0; o < operations.Length; o++)
                {
                    if (state is 2 or 3)
                    {
                        // A trace of the same calls first, stopped: its flush resolves their stacks (the kernel then
                        // stops walking them where their app frame is), as a server's earlier requests would have.
                        var strategy = state == 2 ? Strategy.Summary : Strategy.All;
                        var warmUp = IoTracer.Start(strategy);
                        _ = Measure(operations[o], 20);
                        _ = warmUp.Stop();
                        scope = IoTracer.Start(strategy);
                    }

                    perCall[o][state][round] = Measure(operations[o], Batches) / operations[o].Calls;
                    if (scope is not null)
                    {
                        var report = scope.Stop();
                        if (report.Backend != backend || report.TotalCalls < (long)Batches * Operations * operations[o].Calls)
                        {
                            Console.Error.WriteLine($"{s_states[state]}: the trace ran on {report.Backend} and counted {report.TotalCalls} calls");
                            return 1;
                        }

                        scope = null;
                    }
                }
            }

            IoTracer.Disable();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round + 1}: ") + string.Join("; ", Enumerable.Range(0, operations.Length).Select(o =>
                string.Join(" ", s_states.Select((s, i) => string.Create(CultureInfo.InvariantCulture, $"{perCall[o][i][round]:0}"))) + " ns")));
        }

        Console.WriteLine();
        Console.WriteLine($"Per IO call, median over {rounds} rounds; overhead = state - untraced of the same round");
        Console.WriteLine();
        Console.WriteLine("| Operation | State | ns per call | Overhead per call | Ratio |");
        Console.WriteLine("| --- | --- | ---: | ---: | ---: |");
        for (var o = 0; o < operations.Length; o++)
        {
            for (var state = 0; state < s_states.Length; state++)
            {
                var overhead = Interleaving.Median([.. Enumerable.Range(0, rounds).Select(r => perCall[o][state][r] - perCall[o][0][r])]);
                var ratio = Interleaving.Median([.. Enumerable.Range(0, rounds).Select(r => perCall[o][state][r] / perCall[o][0][r])]);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {names[o]} | {s_states[state]} | {Interleaving.Median(perCall[o][state]):0} | {(state == 0 ? "-" : $"{overhead / 1000:+0.000;-0.000} us")} | {ratio:0.00} |"));
            }
        }

        return 0;
    }

    /// <summary>Median nanoseconds per operation over <paramref name="batches"/> batches of 64.</summary>
    internal static double Measure(IIoOperation operation, int batches)
    {
        var times = new double[batches];
        for (var b = 0; b < batches; b++)
        {
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < Operations; i++)
            {
                _ = operation.Run();
            }

            times[b] = Stopwatch.GetElapsedTime(start).TotalNanoseconds / Operations;
        }

        return Interleaving.Median(times);
    }
}
