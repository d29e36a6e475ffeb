using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using IoTrace.Attribution;
using IoTrace.Backends.Unavailable;
using IoTrace.DTrace.Consumer;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;
using IoTrace.Symbols;
using IoTrace.Tracing;

namespace IoTrace.Benchmarks;

/// <summary>
/// The per-call cost of the syscall provider's script (<see cref="SyscallProviderScript"/>, which aggregates in dtrace
/// and prints at each flush asked for) on DTrace for Linux, for a 1-byte pread64: untraced without dtrace, untraced
/// with it attached, a Summary trace, a Read trace (context: fd, path and a 40-frame <c>ustack()</c> in the key), each
/// trace with a flush every 100 ms asked for meanwhile (a server's other requests stopping). States in rounds, dtrace
/// started again each round; each state's time is the median over batches of 64 calls. After each round each trace's
/// count is compared with the calls it made: what a flush during the calls lost shows there.
/// <c>dotnet run -c Release --project bench/IoTrace.Benchmarks -- dtrace-syscall-provider [rounds] [cpu]</c>, as root.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class DTraceSyscallProvider
{
    public const string Command = "dtrace-syscall-provider";

    private const int Batches = 4000;
    private const int CallsPerState = Batches * 64;

    private static readonly string[] s_states = ["Untraced", "Attached_NoTrace", "Summary", "Read (context)"];

    public static int Run(int rounds, int? cpu)
    {
        if (cpu is { } pinned && !Interleaving.TryPinCurrentThread(pinned))
        {
            return 1;
        }

        if (TraceSlotTable.Shared(out var reason) is not { } table)
        {
            Console.Error.WriteLine($"no slot table: {reason}");
            return 1;
        }

        using var file = new FileReadOperation();
        _ = KernelInterleaved.Measure(file, 200);
        var script = Path.Combine(Path.GetTempPath(), $"iotrace-bench-{Environment.ProcessId}.d");
        File.WriteAllText(script, SyscallProviderScript.Generate(DTracePlatform.Linux, Environment.ProcessId, table.Address, Strategy.Read));
        var perCall = s_states.Select(_ => new double[rounds]).ToArray();
        var missed = s_states.Select(_ => new long[rounds]).ToArray();
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                perCall[0][round] = KernelInterleaved.Measure(file, Batches);

                // Its slot's page mapped before dtrace reads it: a read of a page never touched fails in dtrace, at a cost.
                table.MapThreadPages();
                using var dtrace = new ScriptRun(script);
                perCall[1][round] = KernelInterleaved.Measure(file, Batches);
                var sessions = new List<TraceSession>();
                foreach (var strategy in (Strategy[])[Strategy.Summary, Strategy.Read])
                {
                    var session = new TraceSession(strategy, IoTraceFeatures.All, new UnavailableBackend("bench"), new CallSiteResolver([]), Path.GetTempPath());
                    sessions.Add(session);
                    table.Publish(session);
                    using (new PeriodicFlushes(dtrace))
                    {
                        perCall[sessions.Count + 1][round] = KernelInterleaved.Measure(file, Batches);
                    }

                    table.Publish(null);
                }

                var counted = dtrace.CallsAfterAFlush(sessions.Select(static s => s.Id).ToArray());
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round + 1}: {string.Join(" ", s_states.Select((_, i) => $"{perCall[i][round]:0}"))} ns; counted {string.Join(" and ", counted)} of {CallsPerState} each"));
                for (var i = 0; i < counted.Length; i++)
                {
                    missed[i + 2][round] = CallsPerState - counted[i];
                }
            }
        }
        finally
        {
            File.Delete(script);
        }

        Console.WriteLine();
        Console.WriteLine($"Per 1-byte pread64, median over {rounds} rounds; overhead = state - untraced of the same round");
        Console.WriteLine();
        Console.WriteLine($"| State | ns per call | Overhead per call | Calls missed of {CallsPerState} per round |");
        Console.WriteLine("| --- | ---: | ---: | --- |");
        for (var state = 0; state < s_states.Length; state++)
        {
            var overhead = Interleaving.Median([.. Enumerable.Range(0, rounds).Select(r => perCall[state][r] - perCall[0][r])]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {s_states[state]} | {Interleaving.Median(perCall[state]):0} | {(state == 0 ? "-" : $"{overhead / 1000:+0.000;-0.000} us")} | {(state < 2 ? "-" : string.Join(", ", missed[state]))} |"));
        }

        return 0;
    }

    /// <summary>A flush every 100 ms while it lives, on a thread of its own: the stops of a server's other requests.</summary>
    private sealed class PeriodicFlushes : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Thread _thread;

        public PeriodicFlushes(ScriptRun run)
        {
            _thread = new Thread(() =>
            {
                while (!_stop.Token.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(100)))
                {
                    _ = run.RequestFlush();
                }
            }) { IsBackground = true };
            _thread.Start();
        }

        public void Dispose()
        {
            _stop.Cancel();
            _thread.Join();
            _stop.Dispose();
        }
    }

    /// <summary>dtrace running the script, its output read on a thread of its own; started attached (its <c>R</c> read).</summary>
    private sealed class ScriptRun : IDisposable
    {
        private readonly Process _dtrace;
        private readonly AggregateOutputParser _parser = new();
        private readonly List<AggregateRow> _rows = [];
        private int _flushes;
        private long _requested;
        private readonly SemaphoreSlim _ready = new(0);
        private readonly Thread _reader;

        public ScriptRun(string script)
        {
            _dtrace = Process.Start(new ProcessStartInfo("dtrace", ["-q", "-s", script]) { RedirectStandardOutput = true, RedirectStandardError = false })!;
            _reader = new Thread(Read) { IsBackground = true };
            _reader.Start();
            if (!_ready.Wait(TimeSpan.FromSeconds(60)))
            {
                throw new InvalidOperationException("dtrace did not attach within 60 s");
            }
        }

        /// <summary>Each trace's calls, after two flushes asked for now, one after the other (the script prints a flush late).</summary>
        public long[] CallsAfterAFlush(long[] traces)
        {
            lock (_rows)
            {
                for (var flush = 0; flush < 2; flush++)
                {
                    // Flushes are read in order: once this one is, every one asked for before it is too.
                    var until = RequestFlush();
                    while (_flushes < until)
                    {
                        if (!Monitor.Wait(_rows, TimeSpan.FromSeconds(30)))
                        {
                            throw new InvalidOperationException("dtrace stopped flushing");
                        }
                    }
                }

                return [.. traces.Select(t => _rows.Where(r => r.Trace == t).Sum(static r => r.Calls))];
            }
        }

        /// <summary>Asks for a flush; returns how many flushes will have been read once it is.</summary>
        public long RequestFlush()
        {
            var flush = Interlocked.Increment(ref _requested);
            SyscallProviderScript.RequestFlush();
            return flush;
        }

        public void Dispose()
        {
            // SIGTERM, never SIGKILL: dtrace would leave its ustack() breakpoint in this process's dynamic linker.
            _ = LibcInterop.Kill(_dtrace.Id, LibcInterop.SIGTERM);
            _dtrace.WaitForExit();
            _dtrace.Dispose();
        }

        private void Read()
        {
            while (_dtrace.StandardOutput.ReadLine() is { } line)
            {
                var wasReady = _parser.IsReady;
                if (_parser.Add(line) is { } flush)
                {
                    lock (_rows)
                    {
                        _rows.AddRange(flush.Rows);
                        _flushes++;
                        Monitor.PulseAll(_rows);
                    }
                }

                if (!wasReady && _parser.IsReady)
                {
                    _ready.Release();
                }
            }
        }
    }
}
