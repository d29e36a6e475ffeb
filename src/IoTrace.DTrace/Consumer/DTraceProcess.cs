using System.Diagnostics;
using System.Runtime.Versioning;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;
using IoTrace.Tracing;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// The dtrace process the backend runs: started with the generated script (no <c>-p</c>: dtrace would keep the app
/// ptrace-attached, which no debugger or strace could then share), read line by line, and asked to flush with a
/// marker call made on each CPU in turn.
/// </summary>
/// <remarks>
/// Why a marker on every CPU: dtrace prints each CPU's records in the order they were made, but CPUs one after another.
/// A call that returned before the marker on one CPU may be printed after the marker of another; it cannot be printed
/// after the marker made later on its own CPU. Once the marker is read from every CPU, every call made before the first
/// of them has been read.
/// </remarks>
[SupportedOSPlatform("linux")]
internal sealed unsafe class DTraceProcess : IDisposable
{
    private const int SIGINT = 2;

    private readonly Process _process;
    private readonly string _scriptPath;
    private readonly int[] _cpus;
    private readonly DTraceLineParser _parser = new();
    private readonly SemaphoreSlim _flushWanted = new(0);
    private readonly TaskCompletionSource<string?> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<long, int> _markersSeen = [];

    // dtrace's last lines on stderr, for the reason it exited.
    private readonly Queue<string> _errors = new();
    private long _requested;
    private volatile bool _disposed;

    private DTraceProcess(Process process, string scriptPath, int[] cpus)
    {
        _process = process;
        _scriptPath = scriptPath;
        _cpus = cpus;
    }

    /// <summary>A call record, on the output thread.</summary>
    public event Action<DTraceRecord>? RecordRead;

    /// <summary>Every call made before flush <c>n</c> was requested has been read (on the output thread).</summary>
    public event Action<long>? Flushed;

    /// <summary>dtrace's line each second, on the output thread.</summary>
    public event Action? Heartbeat;

    /// <summary>dtrace said calls were dropped (its buffers were full).</summary>
    public event Action<string>? Lost;

    /// <summary>dtrace ended, or wrote something the backend cannot go on after.</summary>
    public event Action<string>? Failed;

    /// <summary>From the start of dtrace to its probes enabled (its BEGIN clause ran).</summary>
    public TimeSpan AttachDuration { get; private set; }

    /// <summary>The last flush requested; <see cref="Flushed"/> reports it once read.</summary>
    public long LastRequested => Interlocked.Read(ref _requested);

    /// <summary>Starts dtrace on <paramref name="script"/> and waits for its probes to be enabled.</summary>
    public static DTraceProcess Start(string dtrace, string script, TimeSpan timeout)
    {
        var stopwatch = Stopwatch.StartNew();
        var path = Path.Combine(Path.GetTempPath(), $"iotrace-{Environment.ProcessId}-{Guid.NewGuid():N}.d");
        File.WriteAllText(path, script);
        var info = new ProcessStartInfo(dtrace)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["-q", "-s", path])
        {
            info.ArgumentList.Add(argument);
        }

        Process process;
        using (SuppressedFlow.Begin())
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"{dtrace} could not be started");
        }

        var host = new DTraceProcess(process, path, AllowedCpus());
        using (SuppressedFlow.Begin())
        {
            new Thread(host.ReadOutput) { IsBackground = true, Name = "IoTrace dtrace output" }.UnsafeStart();
            new Thread(host.ReadErrors) { IsBackground = true, Name = "IoTrace dtrace errors" }.UnsafeStart();
            new Thread(host.MakeMarkers) { IsBackground = true, Name = "IoTrace dtrace flushes" }.UnsafeStart();
        }

        string? failure;
        if (!host._ready.Task.Wait(timeout))
        {
            failure = $"dtrace did not enable its probes within {timeout.TotalSeconds:0} s";
        }
        else
        {
            failure = host._ready.Task.Result;
        }

        host.DeleteScript();
        if (failure is not null)
        {
            host.Dispose();
            throw new InvalidOperationException(failure);
        }

        host.AttachDuration = stopwatch.Elapsed;
        return host;
    }

    /// <summary>Asks for a flush; <see cref="Flushed"/> reports it, or a later one.</summary>
    public void RequestFlush() => _flushWanted.Release();

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _flushWanted.Release();
        try
        {
            // SIGINT: dtrace disables its probes and exits; the app does not wait for its teardown.
            if (!_process.HasExited)
            {
                _ = LibcInterop.Kill(_process.Id, SIGINT);
            }
        }
        catch (InvalidOperationException)
        {
        }

        DeleteScript();
    }

    private void DeleteScript()
    {
        try
        {
            File.Delete(_scriptPath);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private void ReadOutput()
    {
        try
        {
            while (_process.StandardOutput.ReadLine() is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }

                switch (line[0])
                {
                    case 'C' or 'P' or 'S':
                        if (_parser.ParseRecord(line) is { } record)
                        {
                            RecordRead?.Invoke(record);
                        }

                        break;
                    case 'F':
                        if (DTraceLineParser.TryParseMarker(line, out _, out var sequence))
                        {
                            OnMarker(sequence);
                        }

                        break;
                    case 'R':
                        _ready.TrySetResult(null);
                        break;
                    case 'T':
                        Heartbeat?.Invoke();
                        break;
                }
            }
        }
        catch (IOException)
        {
        }

        _process.WaitForExit();
        var reason = $"dtrace exited with code {_process.ExitCode}";
        _ready.TrySetResult(reason + LastErrors());
        if (!_disposed)
        {
            Failed?.Invoke(reason + LastErrors());
        }
    }

    private string LastErrors()
    {
        lock (_errors)
        {
            return _errors.Count == 0 ? string.Empty : ": " + string.Join(" | ", _errors);
        }
    }

    private void ReadErrors()
    {
        try
        {
            while (_process.StandardError.ReadLine() is { } line)
            {
                // A thread's slot on a page the table has not mapped yet fails its copyin: that thread runs no trace.
                if (line.Contains("error on enabled probe", StringComparison.Ordinal) && line.Contains(":entry)", StringComparison.Ordinal))
                {
                    continue;
                }

                if (line.Contains("drops on CPU", StringComparison.Ordinal) || line.Contains("dynamic variable drops", StringComparison.Ordinal))
                {
                    Lost?.Invoke(line);
                    continue;
                }

                lock (_errors)
                {
                    _errors.Enqueue(line);
                    if (_errors.Count > 5)
                    {
                        _errors.Dequeue();
                    }
                }
            }
        }
        catch (IOException)
        {
        }
    }

    private void OnMarker(long sequence)
    {
        var seen = _markersSeen.GetValueOrDefault(sequence) + 1;
        if (seen < _cpus.Length)
        {
            _markersSeen[sequence] = seen;
            return;
        }

        _markersSeen.Remove(sequence);
        Flushed?.Invoke(sequence);
    }

    private void MakeMarkers()
    {
        while (!_disposed)
        {
            _flushWanted.Wait();

            // One marker answers every request made before it.
            while (_flushWanted.CurrentCount > 0)
            {
                _flushWanted.Wait();
            }

            if (_disposed)
            {
                return;
            }

            var sequence = Interlocked.Increment(ref _requested);
            foreach (var cpu in _cpus)
            {
                PinTo(cpu);
                _ = LibcInterop.Prctl(DTraceScript.MarkerOption, (nint)sequence, 0, 0, 0);
            }
        }
    }

    private static void PinTo(int cpu)
    {
        var mask = stackalloc byte[128];
        new Span<byte>(mask, 128).Clear();
        mask[cpu / 8] = (byte)(1 << (cpu % 8));
        _ = LibcInterop.SchedSetAffinity(0, 128, mask);
    }

    /// <summary>The CPUs this process may run on: its calls are printed from these.</summary>
    private static int[] AllowedCpus()
    {
        var mask = stackalloc byte[128];
        if (LibcInterop.SchedGetAffinity(0, 128, mask) != 0)
        {
            return [.. Enumerable.Range(0, Environment.ProcessorCount)];
        }

        var cpus = new List<int>();
        for (var cpu = 0; cpu < 1024; cpu++)
        {
            if ((mask[cpu / 8] & (1 << (cpu % 8))) != 0)
            {
                cpus.Add(cpu);
            }
        }

        return [.. cpus];
    }
}
