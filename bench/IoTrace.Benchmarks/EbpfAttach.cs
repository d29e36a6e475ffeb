using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using IoTrace.Ebpf;
using IoTrace.Ebpf.Kernel;
using IoTrace.Symbols;

namespace IoTrace.Benchmarks;

/// <summary>
/// How long the eBPF backend takes to attach and detach, timed with a <see cref="Stopwatch"/> rather than
/// BenchmarkDotNet: a cold attach happens once per process, so each run is a fresh process.
/// <c>dotnet run -c Release --project bench/IoTrace.Benchmarks -- ebpf-attach [runs]</c> starts this program
/// <c>runs</c> times with <c>ebpf-attach-once</c>, and prints the median and range of each step.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class EbpfAttach
{
    public const string Command = "ebpf-attach";
    public const string OnceCommand = "ebpf-attach-once";
    public const string ProgramOnceCommand = "ebpf-attach-program-once";

    private const string ResultPrefix = "RESULT ";
    private const int StopSamples = 20;

    private static readonly string[] s_steps =
    [
        "cold attach: TryEnable(\"ebpf\") in a fresh process",
        "  of which the backend's own attach (code map, slot table, kernel program, native libraries learned)",
        "    of which the runtime's code map (EventPipe session, rundown; the kernel program loads meanwhile)",
        "    of which the kernel program's load and attach (libbpf, the verifier, maps; the code map starts meanwhile)",
        "the kernel program's load and attach alone, in another fresh process",
        "first trace's Stop (the trace's first flush, stacks resolved)",
        $"Stop of a Summary trace with one file read (median of {StopSamples})",
        $"Stop of an All trace with one file read (median of {StopSamples})",
        "detach: IoTracer.Disable()",
        "  of which the kernel program's detach (links destroyed, object closed)",
        "warm re-attach: TryEnable(\"ebpf\") after Disable, same process",
        "detach by switching: TryEnable(\"inprocess\") (kernel program detached, in-process hooks installed)",
    ];

    /// <summary>Runs the measurement <paramref name="runs"/> times, each in its own process, and prints the summary.</summary>
    public static int Run(int runs)
    {
        var samples = new List<double[]>();
        for (var run = 1; run <= runs; run++)
        {
            if (RunChild(OnceCommand, run) is not { } values || RunChild(ProgramOnceCommand, run) is not [var programAlone])
            {
                return 1;
            }

            values.Insert(4, programAlone);
            samples.Add([.. values]);
            Console.WriteLine($"run {run}: " + string.Join("  ", values.Select(v => v.ToString("0.0", CultureInfo.InvariantCulture))) + " ms");
        }

        Console.WriteLine();
        Console.WriteLine($"eBPF backend, {runs} runs, each in a fresh process (ms)");
        Console.WriteLine();
        Console.WriteLine("| Step | Median | Min | Max |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        for (var i = 0; i < s_steps.Length; i++)
        {
            var column = samples.Select(s => s[i]).ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {s_steps[i]} | {Median(column):0.0} | {column.Min():0.0} | {column.Max():0.0} |"));
        }

        return 0;
    }

    /// <summary>Runs this program with <paramref name="command"/> in a fresh process; the values of its RESULT line, or null.</summary>
    private static List<double>? RunChild(string command, int run)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            info.ArgumentList.Add(typeof(EbpfAttach).Assembly.Location);
        }

        info.ArgumentList.Add(command);
        using var child = Process.Start(info)!;
        var output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal));
        if (child.ExitCode != 0 || line is null)
        {
            Console.Error.WriteLine($"run {run} ({command}) failed (exit code {child.ExitCode}):\n{output}");
            return null;
        }

        return [.. line[ResultPrefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(v => double.Parse(v, CultureInfo.InvariantCulture))];
    }

    /// <summary>
    /// The kernel program alone, in a fresh process: loaded and attached with nothing running beside it (the backend
    /// starts the runtime's code map meanwhile), then closed; prints one RESULT line with its milliseconds.
    /// </summary>
    public static int RunProgramOnce()
    {
        Require(Prerequisites.Check(out var tracepoints, out _, out var reason), reason);
        TraceSlotTable.SlotBits = SlotBits.Of;
        var slots = TraceSlotTable.Shared(out reason) ?? throw new InvalidOperationException(reason);
        slots.MapThreadPages();
        using var probes = KernelProbes.Attach(tracepoints, slots.Address, KernelProgram.LibcSites);
        Console.WriteLine(ResultPrefix + probes.AttachDuration.TotalMilliseconds.ToString("0.000", CultureInfo.InvariantCulture));
        return 0;
    }

    /// <summary>One run: attach from cold, trace, detach, re-attach, switch back; prints one RESULT line of milliseconds.</summary>
    public static int RunOnce()
    {
        var file = Path.Combine(Path.GetTempPath(), $"iotrace-attach-{Environment.ProcessId}.bin");
        File.WriteAllBytes(file, new byte[4096]);
        try
        {
            var stopwatch = Stopwatch.StartNew();
            Require(KernelBenchBackend.TryAttach("ebpf", out var reason), reason);
            var coldAttach = stopwatch.Elapsed.TotalMilliseconds;
            var backend = KernelBenchBackend.Ebpf;
            var ownAttach = backend.AttachDuration.TotalMilliseconds;
            var codeMap = backend.CodeMapStartDuration.TotalMilliseconds;
            var programAttach = backend.ProgramAttachDuration.TotalMilliseconds;
            Require(BpfFds() > 0, "no BPF program or link in the process after attaching");

            var firstStop = TimedTrace(Strategy.All, file);
            var summaryStop = Median([.. Enumerable.Range(0, StopSamples).Select(_ => TimedTrace(Strategy.Summary, file))]);
            var allStop = Median([.. Enumerable.Range(0, StopSamples).Select(_ => TimedTrace(Strategy.All, file))]);

            stopwatch.Restart();
            IoTracer.Disable();
            var detach = stopwatch.Elapsed.TotalMilliseconds;
            var programDetach = backend.ProgramDetachDuration.TotalMilliseconds;
            RequireDetached();

            stopwatch.Restart();
            Require(KernelBenchBackend.TryAttach("ebpf", out reason), reason);
            var warmAttach = stopwatch.Elapsed.TotalMilliseconds;
            Require(BpfFds() > 0, "no BPF program or link in the process after re-attaching");
            _ = TimedTrace(Strategy.Summary, file);

            stopwatch.Restart();
            Require(IoTracer.TryEnable("inprocess", out reason), reason);
            var switchBack = stopwatch.Elapsed.TotalMilliseconds;
            RequireDetached();
            Require(IoTracer.BackendName == "inprocess", $"the process runs {IoTracer.BackendName} after switching");
            IoTracer.Disable();

            double[] values = [coldAttach, ownAttach, codeMap, programAttach, firstStop, summaryStop, allStop, detach, programDetach, warmAttach, switchBack];
            Console.WriteLine(ResultPrefix + string.Join(' ', values.Select(v => v.ToString("0.000", CultureInfo.InvariantCulture))));
            return 0;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>A trace around one file read, on the kernel backend; returns how long its Stop took.</summary>
    private static double TimedTrace(Strategy strategy, string file)
    {
        var scope = IoTracer.Start(strategy);
        _ = File.ReadAllBytes(file).Length;
        var stopwatch = Stopwatch.StartNew();
        var report = scope.Stop();
        var elapsed = stopwatch.Elapsed.TotalMilliseconds;
        Require(report.Backend == "ebpf", $"the trace ran on {report.Backend}");
        Require(report.TotalCalls > 0 && report.IsComplete, $"the trace counted {report.TotalCalls} calls, complete {report.IsComplete}");
        return elapsed;
    }

    private static void RequireDetached() => Require(BpfFds() == 0, $"{BpfFds()} BPF programs, links or maps still open after detaching");

    /// <summary>The process's open BPF programs, links and maps (their fdinfo names a type).</summary>
    private static int BpfFds() => Directory.EnumerateFiles("/proc/self/fdinfo").Count(info =>
    {
        try
        {
            return File.ReadLines(info).Any(l => l.StartsWith("prog_type:", StringComparison.Ordinal) || l.StartsWith("link_type:", StringComparison.Ordinal) || l.StartsWith("map_type:", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    });

    private static void Require(bool condition, string reason)
    {
        if (!condition)
        {
            throw new InvalidOperationException(reason);
        }
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
