using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// bpftrace running <see cref="BpftraceScript"/> against this process. Its output is read on a dedicated thread
/// (a slow reader makes bpftrace block and the kernel drop events) whose tid the program ignores, so the reads
/// do not feed back into the trace. At each flush that thread reads the retired buffer's maps itself
/// (<see cref="BpftraceMaps"/>); if it cannot take them from bpftrace, bpftrace starts again and prints them.
/// Flushes are handed to a second thread for attribution.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class BpftraceProcess : IDisposable
{
    private readonly string _bpftrace;
    private readonly nint _slotTable;
    private readonly BpftraceOutputParser _parser = new();
    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _stderr = new();
    private Process? _process;
    private BpftraceMaps? _maps;
    private string? _mapsUnreadable;
    private bool _printMaps;
    private volatile bool _disposed;
    private int _readerThreadId;

    /// <summary>
    /// Entries per kernel map; a full map drops new keys, which the flush's event count reveals. Not more: printing
    /// and clearing a hash map visits every bucket (the kernel's get_next_key scans to the next used one), and that
    /// was most of bpftrace's CPU under load at 65,536. A buffer holds 20 to 100 ms of keys (a few thousand under the
    /// load benchmark).
    /// </summary>
    internal const int DefaultMapKeys = 16_384;

    /// <summary>Entries per kernel map (tests lower it to fill a map).</summary>
    internal static int MapKeys { get; set; } = DefaultMapKeys;

    /// <summary>bpftrace's string length (BPFTRACE_STRLEN): room for a path in the target map.</summary>
    private const int PathLength = 200;

    /// <summary>How the maps are taken from bpftrace once its program runs (tests make it fail, or print instead).</summary>
    internal static Func<int, BpftraceMaps>? OpenMaps { get; set; } = pid => BpftraceMaps.Open(pid, PathLength);

    /// <summary>Why bpftrace prints its maps rather than the process reading them; null while the process reads them.</summary>
    public string? MapsPrintedBecause { get; private set; }

    /// <summary>The nice value of bpftrace, of the thread that reads its output and of the flush thread (the app's threads run at 0).</summary>
    private const int FlushNiceness = -5;

    public BpftraceProcess(string bpftrace, nint slotTable)
    {
        _bpftrace = bpftrace;
        _slotTable = slotTable;
        _parser.Ready += OnAttached;
        _parser.Flushed += flush =>
        {
            // Read to its end, so its clears have run: the kernel may rotate again. Acknowledged here, on the reader,
            // so a slow consumer of flushes never stalls the rotation (and lets one buffer grow for seconds).
            TraceSlotTable.Acknowledge(flush.Sequence);
            Flushed?.Invoke(flush);
        };
        _parser.Lost += n => Lost?.Invoke(n);
    }

    /// <summary>A flush arrived (raised on the reader thread: handlers hand it on and return).</summary>
    public event Action<KernelFlush>? Flushed;

    public event Action<long>? Lost;

    /// <summary>bpftrace failed to start or exited on its own; raised once, with the reason.</summary>
    public event Action<string>? Exited;

    /// <summary>Completes with true once the probes are attached, false if bpftrace ended first.</summary>
    public Task<bool> Ready => _ready.Task;

    public int? ProcessId => _process is { } p ? SafeId(p) : null;

    /// <summary>The tid of the thread that reads bpftrace's output (the program ignores its calls; it also names this attach in markers). 0 until it runs.</summary>
    public int ReaderThreadId => Volatile.Read(ref _readerThreadId);

    public void Start()
    {
        var reader = new Thread(Run) { IsBackground = true, Name = "IoTrace bpftrace reader" };
        reader.UnsafeStart();
    }

    public void Dispose()
    {
        _disposed = true;
        if (_process is { } process)
        {
            try
            {
                if (!process.HasExited)
                {
                    // SIGINT lets bpftrace detach cleanly; kill if it does not within a moment.
                    _ = LibcInterop.Kill(process.Id, LibcInterop.SIGINT);
                    if (!process.WaitForExit(3000))
                    {
                        process.Kill();
                    }
                }
            }
            catch (InvalidOperationException)
            {
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }
        }

        _ready.TrySetResult(false);
    }

    private void Run()
    {
        var printMaps = OpenMaps is null;
        MapsPrintedBecause = printMaps ? "the process was told not to read them" : null;
        string? failure;
        while (true)
        {
            failure = RunOnce(printMaps);
            if (_mapsUnreadable is null || printMaps || _disposed)
            {
                break;
            }

            // The maps could not be taken: the same program again, printing them.
            printMaps = true;
            MapsPrintedBecause = _mapsUnreadable;
            _mapsUnreadable = null;
        }

        _ready.TrySetResult(false);
        if (!_disposed && failure is not null)
        {
            Exited?.Invoke(failure);
        }
    }

    /// <summary>Once the program runs: takes its maps unless bpftrace prints them, and only then reports ready.</summary>
    private void OnAttached()
    {
        if (_parser.ReadBuffer is null && !_printMaps && OpenMaps is { } open && _process is { } process)
        {
            try
            {
                _maps = open(process.Id);
                _parser.ReadBuffer = _maps.Read;
            }
            catch (Exception e)
            {
                _mapsUnreadable = $"bpftrace's maps could not be read directly ({e.Message}), so bpftrace prints them";
                _ = LibcInterop.Kill(process.Id, LibcInterop.SIGINT);
                return;
            }
        }

        _ready.TrySetResult(true);
    }

    /// <summary>
    /// bpftrace's settings: addresses only (the process resolves its own frames); longer paths; room for many distinct
    /// keys. The string length sizes the BPF programs' stacks as well.
    /// </summary>
    internal static void SetEnvironment(IDictionary<string, string?> environment)
    {
        environment["BPFTRACE_NO_USER_SYMBOLS"] = "1";
        environment["BPFTRACE_STRLEN"] = PathLength.ToString(CultureInfo.InvariantCulture);
        environment["BPFTRACE_MAP_KEYS_MAX"] = MapKeys.ToString(CultureInfo.InvariantCulture);
        environment["BPFTRACE_NO_CPP_DEMANGLE"] = "1";
    }

    /// <summary>Runs bpftrace until it exits; the reason it ended, or null when it was disposed.</summary>
    private string? RunOnce(bool printMaps)
    {
        _printMaps = printMaps;
        string? failure = null;
        try
        {
            var info = new ProcessStartInfo(_bpftrace)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = false,
                UseShellExecute = false,
            };
            info.ArgumentList.Add("-f");
            info.ArgumentList.Add("json");
            info.ArgumentList.Add("-e");
            info.ArgumentList.Add(BpftraceScript.Build(LibcUnwindTable.Current, printMaps: printMaps));
            info.ArgumentList.Add(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            info.ArgumentList.Add(((ulong)_slotTable).ToString(CultureInfo.InvariantCulture));
            Volatile.Write(ref _readerThreadId, LibcInterop.CurrentThreadId);
            info.ArgumentList.Add(_readerThreadId.ToString(CultureInfo.InvariantCulture));

            SetEnvironment(info.Environment);

            var process = new Process { StartInfo = info };
            process.ErrorDataReceived += (_, e) => OnStderr(e.Data);
            process.Start();
            _process = process;
            RaisePriority(process.Id, LibcInterop.CurrentThreadId);
            process.BeginErrorReadLine();
            var stdout = process.StandardOutput;
            while (stdout.ReadLine() is { } line)
            {
                _parser.Parse(line);
            }

            process.WaitForExit();
            failure = $"bpftrace exited with code {process.ExitCode}{StderrSummary()}";
        }
        catch (Exception e) when (!_disposed)
        {
            failure = $"bpftrace could not run: {e.Message}{StderrSummary()}";
        }
        catch (Exception)
        {
        }
        finally
        {
            // Closed here, on the thread that reads them, once bpftrace is gone.
            _parser.ReadBuffer = null;
            _maps?.Dispose();
            _maps = null;
        }

        return failure;
    }

    /// <summary>Gives the calling thread bpftrace's priority (see <see cref="RaisePriority"/>); without CAP_SYS_NICE, nothing.</summary>
    internal static void RaiseCurrentThreadPriority() => Raise(LibcInterop.CurrentThreadId);

    /// <summary>
    /// Raises one task's priority, not its children's: a thread the thread pool starts when a raised thread queues work
    /// (a trace's completion, a log line) would otherwise inherit the raised nice value and run the app's work ahead of
    /// every other process. The kernel resets a negative nice in the tasks created by one with SCHED_RESET_ON_FORK.
    /// </summary>
    private static void Raise(int task)
    {
        _ = LibcInterop.SchedSetScheduler(task, LibcInterop.SCHED_OTHER | LibcInterop.SCHED_RESET_ON_FORK, 0);
        _ = LibcInterop.SetPriority(LibcInterop.PRIO_PROCESS, (uint)task, FlushNiceness);
    }

    /// <summary>
    /// Lets bpftrace and this reader run ahead of the app's threads. A buffer rotates only once the previous flush was
    /// read; on a saturated CPU, a flush starved of CPU delays the next, which grows and takes longer
    /// still, until the kernel maps fill and calls are lost. Their work is bounded by the IO being traced.
    /// Needs CAP_SYS_NICE (root has it); without it they keep the default priority.
    /// </summary>
    private static void RaisePriority(int bpftrace, int reader)
    {
        Raise(bpftrace);
        Raise(reader);
    }

    private void OnStderr(string? line)
    {
        // Printed at every start, harmless: bpftrace raises the limit itself where the kernel accounts BPF memory by cgroup.
        if (string.IsNullOrWhiteSpace(line) || line.Contains("RLIMIT_MEMLOCK", StringComparison.Ordinal))
        {
            return;
        }

        if (line.Contains("Lost", StringComparison.Ordinal) && line.Contains("events", StringComparison.Ordinal))
        {
            Lost?.Invoke(1);
        }

        // Compiler warnings come with the source line and a marker line; only errors explain an exit.
        if (line.Contains("WARNING:", StringComparison.Ordinal) || line.TrimStart().StartsWith('~') || line.StartsWith("  ", StringComparison.Ordinal))
        {
            return;
        }

        lock (_stderr)
        {
            _stderr.AppendLine(line.Trim());
            if (_stderr.Length > 4000)
            {
                _stderr.Remove(0, _stderr.Length - 4000);
            }
        }
    }

    private string StderrSummary()
    {
        lock (_stderr)
        {
            var text = _stderr.ToString().Trim();
            return text.Length == 0 ? string.Empty : $": {text.ReplaceLineEndings(" | ")}";
        }
    }

    private static int? SafeId(Process process)
    {
        try
        {
            return process.Id;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
