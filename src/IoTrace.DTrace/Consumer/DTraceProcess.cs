using System.Diagnostics;
using System.Runtime.Versioning;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;
using IoTrace.Tracing;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// The dtrace process the backend runs: started with the generated script (no <c>-p</c>: dtrace would keep the app
/// ptrace-attached, which no debugger or strace could then share), read line by line, and asked to flush with a marker
/// call (<see cref="DTraceScript.MarkerOption"/>) made on each CPU in turn.
/// </summary>
/// <remarks>
/// Why a marker on every CPU: dtrace prints each CPU's lines in the order they were written, but CPUs one after another.
/// A call that returned before the marker on one CPU may be printed after the marker of another; it cannot be printed
/// after the marker made later on its own CPU. Once the marker is read from every CPU, every call made before the first
/// of them has been read.
/// </remarks>
[SupportedOSPlatform("linux")]
internal sealed class DTraceProcess : IDisposable
{
    /// <summary>dtrace prints what it read every 10 ms (its switchrate): flushes closer than that would read nothing more.</summary>
    private static readonly TimeSpan s_markerSpacing = TimeSpan.FromMilliseconds(10);

    private readonly Process _process;
    private readonly string _scriptPath;
    private readonly DTraceLineParser _parser = new();

    // Each connect's peer, printed apart from its call.
    private readonly Dictionary<(long Trace, int Fd, long Generation), string?> _peers = [];

    // Flushes read, in order, until the peers their connects name are read too.
    private readonly Queue<(long Sequence, List<DTraceCall> Calls, long ReadAt)> _pending = new();
    private readonly SemaphoreSlim _flushWanted = new(0);
    private readonly TaskCompletionSource<string?> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int[] _cpus;
    private readonly string? _recordingPath;
    private readonly Dictionary<long, int> _markersSeen = [];
    private List<DTraceCall> _batch = [];

    // dtrace's last lines on stderr, for the reason it exited.
    private readonly Queue<string> _errors = new();
    private long _requested;
    private long _lastMarker;
    private volatile bool _disposed;

    private DTraceProcess(Process process, string scriptPath, int[] cpus, string? recording)
    {
        _process = process;
        _scriptPath = scriptPath;
        _cpus = cpus;
        _recordingPath = recording;
    }

    /// <summary>How long a flush waits for a peer its connects name before it is delivered without it.</summary>
    private static readonly TimeSpan s_pendingTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Flush <c>n</c> was read, with what it printed: every call that returned before flush <c>n</c> was requested is
    /// in it or an earlier one (on the output thread).
    /// </summary>
    public event Action<long, IReadOnlyList<DTraceCall>>? Flushed;

    /// <summary>dtrace's line each second, on the output thread.</summary>
    public event Action? Heartbeat;

    /// <summary>dtrace said calls were dropped (its buffers were full).</summary>
    public event Action<string>? Lost;

    /// <summary>dtrace ended, or wrote something the backend cannot go on after.</summary>
    public event Action<string>? Failed;

    /// <summary>The last flush requested; <see cref="Flushed"/> reports it once read.</summary>
    public long LastRequested => Interlocked.Read(ref _requested);

    /// <summary>Starts dtrace on <paramref name="script"/> and waits for its probes to be enabled.</summary>
    /// <param name="dtrace">The dtrace executable.</param>
    /// <param name="script">The D script, written to a temporary file for dtrace to read.</param>
    /// <param name="timeout">How long to wait for the script's ready line.</param>
    /// <param name="recording">A file to append dtrace's output to, line by line, as it is read; null for none.</param>
    public static DTraceProcess Start(string dtrace, string script, TimeSpan timeout, string? recording = null)
    {
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

        // dtrace inherits the affinity of the thread that starts it, which may be pinned to fewer CPUs than the process.
        var cpus = AllowedCpus();
        _ = CpuAffinity.TrySet(process.Id, cpus);
        var host = new DTraceProcess(process, path, cpus, recording);
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
            // SIGTERM: dtrace disables its probes and exits; the app does not wait for its teardown. Not SIGINT: an app
            // a shell started in the background ignores SIGINT, and so does its dtrace.
            if (!_process.HasExited)
            {
                _ = LibcInterop.Kill(_process.Id, LibcInterop.SIGTERM);
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
        var recording = OpenRecording();
        try
        {
            while (_process.StandardOutput.ReadLine() is { } line)
            {
                recording = Record(recording, line);
                if (line.Length == 0)
                {
                    continue;
                }

                switch (line[0])
                {
                    case 'C' or 'P' or 'S':
                        if (_parser.ParseCall(line) is { } call)
                        {
                            _batch.Add(call);
                        }

                        break;
                    case 'N':
                        if (DTraceLineParser.TryParsePeer(line, out var key, out var peer))
                        {
                            _peers[key] = peer;
                            Deliver(force: false);
                        }

                        break;
                    case 'F':
                        if (DTraceLineParser.TryParseMarker(line, out _, out var sequence) && MarkerReadOnEveryCpu(sequence))
                        {
                            _pending.Enqueue((sequence, _batch, Stopwatch.GetTimestamp()));
                            _batch = [];
                            Deliver(force: false);
                        }

                        break;
                    case 'R':
                        _ready.TrySetResult(null);
                        break;
                    case 'T':
                        Deliver(force: true);
                        Heartbeat?.Invoke();
                        break;
                }
            }
        }
        catch (IOException)
        {
        }

        Close(recording);
        _process.WaitForExit();
        var reason = $"dtrace exited with code {_process.ExitCode}";
        _ready.TrySetResult(reason + LastErrors());
        if (!_disposed)
        {
            Failed?.Invoke(reason + LastErrors());
        }
    }

    /// <summary>The recording's file, opened to append; null where there is none or it cannot be opened.</summary>
    private StreamWriter? OpenRecording()
    {
        if (_recordingPath is not { Length: > 0 } path)
        {
            return null;
        }

        try
        {
            return new StreamWriter(path, append: true) { AutoFlush = true };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Appends the line to the recording; a recording that fails to write is closed, and the reading goes on.</summary>
    private static StreamWriter? Record(StreamWriter? recording, string line)
    {
        try
        {
            recording?.WriteLine(line);
            return recording;
        }
        catch (IOException)
        {
            Close(recording);
            return null;
        }
    }

    private static void Close(StreamWriter? recording)
    {
        try
        {
            recording?.Dispose();
        }
        catch (IOException)
        {
            // Its last lines are lost; the backend goes on.
        }
    }

    private bool MarkerReadOnEveryCpu(long sequence)
    {
        var seen = _markersSeen.GetValueOrDefault(sequence) + 1;
        if (seen < _cpus.Length)
        {
            _markersSeen[sequence] = seen;
            return false;
        }

        _markersSeen.Remove(sequence);
        return true;
    }

    /// <summary>
    /// Delivers the flushes whose connects' peers are all read, in order (a peer's line is written with its call, so it
    /// is read by the end of the round); with <paramref name="force"/>, also those that waited too long (a connect
    /// without its peer gets no target).
    /// </summary>
    private void Deliver(bool force)
    {
        while (_pending.TryPeek(out var head))
        {
            var complete = head.Calls.TrueForAll(Resolvable);
            if (!complete && !(force && Stopwatch.GetElapsedTime(head.ReadAt) > s_pendingTimeout))
            {
                return;
            }

            _pending.Dequeue();
            foreach (var call in head.Calls)
            {
                if (IsNamedConnect(call) && _peers.Remove((call.Trace, call.Fd, call.Generation), out var peer))
                {
                    call.Target = peer;
                }
            }

            Flushed?.Invoke(head.Sequence, head.Calls);
        }
    }

    /// <summary>The process's dtrace child's PID, for tests.</summary>
    internal int ProcessId => _process.Id;

    /// <summary>
    /// The CPUs this process may run on, as its main thread may (the thread that starts dtrace may be pinned to fewer):
    /// the flush markers are made on each of them, since its calls are printed from each.
    /// </summary>
    internal static int[] AllowedCpus() => CpuAffinity.Of(Environment.ProcessId) ?? [.. Enumerable.Range(0, Environment.ProcessorCount)];

    private bool Resolvable(DTraceCall call) => !IsNamedConnect(call) || _peers.ContainsKey((call.Trace, call.Fd, call.Generation));

    /// <summary>A connect of a trace with context (it has a stack) on an fd: the script printed its peer.</summary>
    private static bool IsNamedConnect(DTraceCall call) => call.Stack.Length > 0 && call.Fd >= 0 && call.Syscall.Name == "connect";

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
                if (line.Contains("error on enabled probe", StringComparison.Ordinal) && line.Contains(":sys_enter)", StringComparison.Ordinal))
                {
                    continue;
                }

                if (line.Contains(" drops", StringComparison.Ordinal))
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

            // At most one flush per spacing: under load, one flush answers many stopped traces.
            var since = Stopwatch.GetElapsedTime(_lastMarker);
            if (since < s_markerSpacing)
            {
                Thread.Sleep(s_markerSpacing - since);
            }

            _lastMarker = Stopwatch.GetTimestamp();
            var sequence = Interlocked.Increment(ref _requested);
            foreach (var cpu in _cpus)
            {
                _ = CpuAffinity.TrySet(0, [cpu]);
                _ = LibcInterop.Prctl(DTraceScript.MarkerOption, (nint)sequence, 0, 0, 0);
            }
        }
    }

}
