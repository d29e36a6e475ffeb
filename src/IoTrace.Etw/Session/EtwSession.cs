using System.Runtime.Versioning;
using IoTrace.Etw.Translation;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Kernel;
using Microsoft.Diagnostics.Tracing.Session;

namespace IoTrace.Etw.Session;

/// <summary>
/// The process's real-time ETW session (<c>IoTrace-{pid}</c>): the kernel's FileIO events with stacks and the
/// Winsock-AFD events, read on a thread of its own and handed to the <see cref="EtwTranslator"/>; a flush thread
/// flushes it every 100 ms, or at once when a trace stops, and opens the marker file after each flush
/// (<see cref="FlushMarkers"/>). The session is the machine's: events of other processes are dropped here, and a
/// session a crashed run of this app left behind is stopped at start.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed class EtwSession : IDisposable
{
    internal const string NamePrefix = "IoTrace-";

    private static readonly TimeSpan s_period = TimeSpan.FromMilliseconds(100);

    private readonly TraceEventSession _session;
    private readonly EtwTranslator _translator;
    private readonly FlushMarkers _markers;
    private readonly DevicePaths _paths;
    private readonly int _processId = Environment.ProcessId;
    private readonly string _markerPath = Path.Combine(Path.GetTempPath(), $"{NamePrefix}{Environment.ProcessId}.marker");
    private readonly AutoResetEvent _flushRequested = new(false);
    private readonly Thread _reader;
    private readonly Thread _flusher;
    private volatile bool _stopping;
    private int _lost;
    private int _disposed;

    private EtwSession(TraceEventSession session, EtwTranslator translator, FlushMarkers markers)
    {
        _session = session;
        _translator = translator;
        _markers = markers;
        _paths = new DevicePaths(WindowsInterop.DriveDevices());
        Subscribe(session.Source);
        _reader = new Thread(Read) { IsBackground = true, Name = "IoTrace ETW reader" };
        _flusher = new Thread(FlushPeriodically) { IsBackground = true, Name = "IoTrace ETW flush" };
    }

    /// <summary>Each flush period, on the flush thread.</summary>
    public event Action? Heartbeat;

    /// <summary>The session lost events (its buffers were full); on the flush thread.</summary>
    public event Action<string>? Lost;

    /// <summary>The session stopped reading; on the reader thread.</summary>
    public event Action<string>? Failed;

    /// <summary>Handling one event failed; reading goes on.</summary>
    public event Action<Exception>? EventFailed;

    /// <summary>
    /// Creates the session with its providers enabled, or gives the reason it cannot (not elevated, the session could not
    /// be created); its events are read from <see cref="Start"/> on, once the caller has subscribed to its own.
    /// </summary>
    public static EtwSession? TryCreate(EtwTranslator translator, FlushMarkers markers, out string reason)
    {
        TraceEventSession? session = null;
        try
        {
            StopSessionsLeftBehind();
            session = new TraceEventSession($"{NamePrefix}{Environment.ProcessId}") { BufferSizeMB = 64, StopOnDispose = true };

            // The kernel provider first and once (TraceEvent's rule); stacks at each file operation's start.
            session.EnableKernelProvider(
                KernelTraceEventParser.Keywords.FileIOInit | KernelTraceEventParser.Keywords.FileIO,
                KernelTraceEventParser.Keywords.FileIOInit);
            session.EnableProvider(AfdEvents.Provider, TraceEventLevel.Informational, AfdEvents.WinsockKeyword);
            var created = new EtwSession(session, translator, markers);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => created.Dispose();
            reason = string.Empty;
            return created;
        }
#pragma warning disable CA1031 // The tracer never breaks the app: whatever ETW throws is the reason the backend cannot run.
        catch (Exception e)
#pragma warning restore CA1031
        {
            session?.Dispose();
            reason = $"the ETW session could not be started: {e.Message}";
            return null;
        }
    }

    /// <summary>Starts reading the events and flushing.</summary>
    public void Start()
    {
        _reader.Start();
        _flusher.Start();
    }

    /// <summary>Flushes now, so that a stopped trace's last events and its marker are read without waiting for the period.</summary>
    public void RequestFlush() => _flushRequested.Set();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping = true;
        _flushRequested.Set();
        _session.Stop(noThrow: true);
        _session.Dispose();
        if (Thread.CurrentThread != _reader && _reader.IsAlive)
        {
            _reader.Join(TimeSpan.FromSeconds(5));
        }

        if (Thread.CurrentThread != _flusher && _flusher.IsAlive)
        {
            _flusher.Join(TimeSpan.FromSeconds(5));
        }

        try
        {
            File.Delete(_markerPath);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Stops the sessions of this app's runs that ended without stopping theirs (a crash, a kill).</summary>
    private static void StopSessionsLeftBehind()
    {
        foreach (var name in TraceEventSession.GetActiveSessionNames())
        {
            if (name.StartsWith(NamePrefix, StringComparison.Ordinal) &&
                int.TryParse(name.AsSpan(NamePrefix.Length), out var processId) &&
                processId != Environment.ProcessId &&
                !IsRunning(processId))
            {
                TraceEventSession.GetActiveSession(name)?.Stop(noThrow: true);
            }
        }
    }

    private static bool IsRunning(int processId)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(processId);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private void Subscribe(ETWTraceEventSource source)
    {
        var kernel = source.Kernel;
        kernel.FileIOCreate += e => Started(e, FileProbes.Create, e.IrpPtr, e.FileObject, _paths.ToDrivePath(e.FileName));
        kernel.FileIORead += e => Started(e, FileProbes.Read, e.IrpPtr, e.FileObject);
        kernel.FileIOWrite += e => Started(e, FileProbes.Write, e.IrpPtr, e.FileObject);
        kernel.FileIODirEnum += e => Started(e, FileProbes.DirEnum, e.IrpPtr, e.FileObject);
        kernel.FileIOCleanup += e => Started(e, FileProbes.Cleanup, e.IrpPtr, e.FileObject);
        kernel.FileIOClose += e => Started(e, FileProbes.Close, e.IrpPtr, e.FileObject);
        kernel.FileIOFlush += e => Started(e, FileProbes.Flush, e.IrpPtr, e.FileObject);
        kernel.FileIOQueryInfo += e => Started(e, FileProbes.QueryInfo, e.IrpPtr, e.FileObject);
        kernel.FileIOSetInfo += e => Started(e, FileProbes.SetInfo, e.IrpPtr, e.FileObject);
        kernel.FileIODelete += e => Started(e, FileProbes.Delete, e.IrpPtr, e.FileObject);
        kernel.FileIORename += e => Started(e, FileProbes.Rename, e.IrpPtr, e.FileObject);
        kernel.FileIOFSControl += e => Started(e, FileProbes.FSControl, e.IrpPtr, e.FileObject);
        kernel.FileIOOperationEnd += OnFileEnded;
        kernel.StackWalkStack += OnStack;

        var registered = new RegisteredTraceEventParser(source);
        registered.All += e =>
        {
            if (e.ProviderGuid == AfdEvents.Provider)
            {
                OnAfd(e);
            }
        };
    }

    private void Started(TraceEvent e, int probe, ulong irp, ulong fileObject, string? path = null)
    {
        if (e.ProcessID != _processId)
        {
            return;
        }

        try
        {
            _translator.OnStarted(new OperationStarted(Qpc(e), e.ThreadID, probe, fileObject, RequestKey.Irp(irp), path));
        }
#pragma warning disable CA1031 // One event's failure is logged once; reading goes on.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            EventFailed?.Invoke(exception);
        }
    }

    // Ends carry no process to trust: every end is handed over, and pairs only with a start of this process.
    private void OnFileEnded(FileIOOpEndTraceData e)
    {
        try
        {
            _translator.OnEnded(new OperationEnded(Qpc(e), RequestKey.Irp(e.IrpPtr), e.NtStatus, (long)e.ExtraInfo));
        }
#pragma warning disable CA1031
        catch (Exception exception)
#pragma warning restore CA1031
        {
            EventFailed?.Invoke(exception);
        }
    }

    private void OnStack(StackWalkStackTraceData e)
    {
        if (e.ProcessID != _processId)
        {
            return;
        }

        var frames = new ulong[e.FrameCount];
        for (var i = 0; i < frames.Length; i++)
        {
            frames[i] = e.InstructionPointer(i);
        }

        try
        {
            _translator.OnStack(new StackWalked(e.EventTimeStampQPC, e.ThreadID, frames));
        }
#pragma warning disable CA1031
        catch (Exception exception)
#pragma warning restore CA1031
        {
            EventFailed?.Invoke(exception);
        }
    }

    private void OnAfd(TraceEvent e)
    {
        try
        {
            OnAfdRequest(e);
        }
#pragma warning disable CA1031
        catch (Exception exception)
#pragma warning restore CA1031
        {
            EventFailed?.Invoke(exception);
        }
    }

    private void OnAfdRequest(TraceEvent e)
    {
        if (!AfdEvents.Probes.TryGetValue((int)e.ID, out var probe))
        {
            return;
        }

        var endpoint = Unsigned(e.PayloadByName("Endpoint"));
        var key = RequestKey.Socket(endpoint, probe);
        switch ((int)Unsigned(e.PayloadByName("EnterExit")))
        {
            // A request's start is logged in the caller's context: its header names the caller's process and thread.
            case AfdEvents.Enter when e.ProcessID == _processId:
                var peer = e.PayloadByName("Address") is byte[] address ? WindowsSocketAddress.Format(address) : null;
                _translator.OnStarted(new OperationStarted(Qpc(e), e.ThreadID, probe, endpoint, key, peer));
                break;
            case AfdEvents.Exit:
                var status = unchecked((int)Unsigned(e.PayloadByName("Status")));
                var bytes = e.PayloadByName("BufferLength") is { } length ? (long)Unsigned(length) : 0;
                _translator.OnEnded(new OperationEnded(Qpc(e), key, status, bytes));
                break;
        }
    }

    // The raw QPC value is Stopwatch's clock, which the timeline and the traces' stop times use; TraceEvent's relative
    // milliseconds are not.
#pragma warning disable CS0618
    private static long Qpc(TraceEvent e) => e.TimeStampQPC;
#pragma warning restore CS0618

    private static ulong Unsigned(object? value) => value switch
    {
        ulong u => u,
        long l => unchecked((ulong)l),
        uint u => u,
        int i => unchecked((uint)i),
        ushort s => s,
        short s => unchecked((ushort)s),
        byte b => b,
        _ => 0,
    };

    private void Read()
    {
        try
        {
            _session.Source.Process();
            if (!_stopping)
            {
                Failed?.Invoke("the ETW session stopped (another tool may have stopped it)");
            }
        }
#pragma warning disable CA1031 // The tracer never breaks the app: the backend fails, tracing falls back.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Failed?.Invoke($"reading the ETW session failed: {e.Message}");
        }
    }

    private void FlushPeriodically()
    {
        _markers.ThreadId = WindowsInterop.CurrentThreadId();
        while (!_stopping)
        {
            var requested = _flushRequested.WaitOne(s_period);
            if (_stopping)
            {
                return;
            }

            try
            {
                FlushOnce();

                // A trace waits for the marker made just now: one more flush delivers it.
                if (requested)
                {
                    FlushOnce();
                }

                if (_session.EventsLost is var lost && lost != _lost)
                {
                    _lost = lost;
                    Lost?.Invoke($"{lost} events lost in total (the session's buffers were full)");
                }

                Heartbeat?.Invoke();
            }
#pragma warning disable CA1031
            catch (Exception e)
#pragma warning restore CA1031
            {
                EventFailed?.Invoke(e);
            }
        }
    }

    private void FlushOnce()
    {
        _markers.BeforeFlush();
        _session.Flush();
        using (File.OpenHandle(_markerPath, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
        }
    }
}
