using System.Diagnostics;
using System.Runtime.Versioning;
using IoTrace.Platform.Linux;
using IoTrace.Tracing;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// The dtrace child process a consumer reads (<see cref="DTraceProcess"/>, <see cref="SyscallProviderProcess"/>): started
/// on a script written to a temporary file (no <c>-p</c>: dtrace would keep the app ptrace-attached, which no debugger or
/// strace could then share), on the process's CPUs; its output read line by line and recorded where asked; its stderr
/// watched for dropped records and kept, briefly, for the reason it exits.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class DTraceChild : IDisposable
{
    private readonly Process _process;
    private readonly string _scriptPath;
    private string? _recordingPath;
    private StreamWriter? _recording;

    // dtrace's last lines on stderr, for the reason it exited.
    private readonly Queue<string> _errors = new();
    private volatile bool _disposed;

    private DTraceChild(Process process, string scriptPath, int[] cpus, string? recording)
    {
        _process = process;
        _scriptPath = scriptPath;
        Cpus = cpus;
        _recordingPath = recording;
    }

    /// <summary>dtrace said records were dropped (its buffers or aggregations were full): raised on its stderr thread.</summary>
    public event Action<string>? Lost;

    /// <summary>The CPUs dtrace runs on: the process's.</summary>
    public int[] Cpus { get; }

    /// <summary>dtrace's PID, for tests.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Starts dtrace on <paramref name="script"/>; the consumer then reads it (<see cref="Run"/>, <see cref="ReadLine"/>).</summary>
    /// <param name="dtrace">The dtrace executable.</param>
    /// <param name="script">The D script, written to a temporary file for dtrace to read.</param>
    /// <param name="recording">A file to append dtrace's output to, line by line, as it is read; null for none.</param>
    public static DTraceChild Start(string dtrace, string script, string? recording)
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

        _ = DTraceLeftovers.Remove();
        Process process;
        using (SuppressedFlow.Begin())
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"{dtrace} could not be started");
        }

        // dtrace inherits the affinity of the thread that starts it, which may be pinned to fewer CPUs than the process.
        var cpus = AllowedCpus();
        _ = CpuAffinity.TrySet(process.Id, cpus);
        var child = new DTraceChild(process, path, cpus, recording);
        using (SuppressedFlow.Begin())
        {
            new Thread(child.ReadErrors) { IsBackground = true, Name = "IoTrace dtrace errors" }.UnsafeStart();
        }

        return child;
    }

    /// <summary>
    /// The CPUs this process may run on, as its main thread may (the thread that starts dtrace may be pinned to fewer):
    /// the Linux script's flush markers are made on each of them, since its calls are printed from each.
    /// </summary>
    public static int[] AllowedCpus() => CpuAffinity.Of(Environment.ProcessId) ?? [.. Enumerable.Range(0, Environment.ProcessorCount)];

    /// <summary>dtrace's next line, recorded first where a recording was asked for; null once its output ends.</summary>
    public string? ReadLine()
    {
        string? line;
        try
        {
            line = _process.StandardOutput.ReadLine();
        }
        catch (IOException)
        {
            line = null;
        }

        if (line is null)
        {
            CloseRecording();
            return null;
        }

        Record(line);
        return line;
    }

    /// <summary>Once its output has ended: waits for dtrace's exit, and says why, with its last errors.</summary>
    public string ExitReason()
    {
        _process.WaitForExit();
        string errors;
        lock (_errors)
        {
            errors = _errors.Count == 0 ? string.Empty : ": " + string.Join(" | ", _errors);
        }

        return $"dtrace exited with code {_process.ExitCode}{errors}";
    }

    /// <summary>
    /// Starts the consumer's threads, one reading dtrace's output and one asking for its flushes, and waits for
    /// <paramref name="ready"/> (null once the script's ready line is read, else why not); then deletes the script, read
    /// by then. Returns why dtrace is not ready, or null.
    /// </summary>
    public string? Run(ThreadStart readOutput, ThreadStart makeFlushes, Task<string?> ready, TimeSpan timeout)
    {
        using (SuppressedFlow.Begin())
        {
            new Thread(readOutput) { IsBackground = true, Name = "IoTrace dtrace output" }.UnsafeStart();
            new Thread(makeFlushes) { IsBackground = true, Name = "IoTrace dtrace flushes" }.UnsafeStart();
        }

        var failure = ready.Wait(timeout) ? ready.Result : $"dtrace did not enable its probes within {timeout.TotalSeconds:0} s";
        DeleteScript();
        return failure;
    }

    /// <summary>The script is read once dtrace's probes are enabled: its file can go.</summary>
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

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            // SIGTERM: dtrace disables its probes and exits; the app does not wait for its teardown. Not SIGINT: an app a
            // shell started in the background ignores SIGINT, and so does its dtrace. Never SIGKILL: to print ustack()
            // DTrace for Linux plants a breakpoint in the app's dynamic linker, which a killed dtrace leaves behind.
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

    /// <summary>Appends the line to the recording, opened at the first line; a recording that fails is closed, and the reading goes on.</summary>
    private void Record(string line)
    {
        if (_recordingPath is not { Length: > 0 } path)
        {
            return;
        }

        try
        {
            _recording ??= new StreamWriter(path, append: true) { AutoFlush = true };
            _recording.WriteLine(line);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            CloseRecording();
            _recordingPath = null;
        }
    }

    private void CloseRecording()
    {
        try
        {
            _recording?.Dispose();
        }
        catch (IOException)
        {
            // Its last lines are lost; the backend goes on.
        }

        _recording = null;
    }

    private void ReadErrors()
    {
        try
        {
            while (_process.StandardError.ReadLine() is { } line)
            {
                // A probe's error at one firing (a thread's slot on a page the table has not mapped yet fails its copyin:
                // that thread runs no trace) is no reason for an exit.
                if (line.Contains("error on enabled probe", StringComparison.Ordinal))
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
}
