using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IoTrace.Backends;
using IoTrace.Backends.Attached;
using IoTrace.DTrace.Attribution;
using IoTrace.DTrace.Consumer;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;
using IoTrace.Tracing;

namespace IoTrace.DTrace;

/// <summary>
/// Root and dtrace: one dtrace process runs a generated script that reports the IO calls of traced threads, found
/// through the shared slot table (<see cref="TraceSlotTable"/>); each flush is charged as it is read, with lines from the
/// runtime's JIT events (<see cref="ManagedCodeMap"/>) and the app's PDBs. On Linux the script prints a line per call
/// (<see cref="DTraceScript"/>, read by <see cref="DTraceProcess"/>); the other systems' script aggregates them in dtrace
/// (<see cref="SyscallProviderScript"/>, read by <see cref="SyscallProviderProcess"/>), which the tests run on Linux too
/// (<see cref="ScriptKind"/>). It starts once, in the background, and stays attached
/// (<see cref="DTraceAttachment"/>); until it is ready, and after it fails, the in-process backend serves
/// (<see cref="AttachedBackend{TAttachment, TTrace}"/>).
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class DTraceBackend : AttachedBackend<DTraceAttachment, DTraceTrace>
{
    public const string BackendName = IoTraceDTrace.Name;

    /// <summary>The environment variable that names the dtrace executable.</summary>
    internal const string DTraceVariable = "IOTRACE_DTRACE";

    /// <summary>
    /// The environment variable that names a file to append dtrace's raw output to: a recording for the parser's tests,
    /// or for a bug report.
    /// </summary>
    internal const string RecordingVariable = "IOTRACE_DTRACE_RECORDING";

    private static readonly TimeSpan s_attachTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How long a stopped trace waits for its flush before its report is cut short (marked incomplete); checked at dtrace's line each second.</summary>
    private static readonly TimeSpan s_flushTimeout = TimeSpan.FromSeconds(10);

    private static readonly Lock s_sharedLock = new();
    private static DTraceBackend? s_shared;

    private readonly string _dtrace;
    private readonly DTraceScriptKind _script;

    // The shared connections marked in the script, by fd.
    private readonly Dictionary<int, long> _marked = [];

    private DTraceBackend(string dtrace, DTraceScriptKind script, IBackendDiagnostics diagnostics)
        : base(diagnostics, s_attachTimeout)
    {
        _dtrace = dtrace;
        _script = script;
    }

    public override string Name => BackendName;

    /// <summary>
    /// No CPU time: DTrace for Linux 2.0 has no vtimestamp, so reports say CPU is unavailable, never 0. Shared connections
    /// only with the Linux script, whose own control calls mark their sockets.
    /// </summary>
    public override BackendCapabilities Capabilities =>
        BackendCapabilities.SeesNativeLibraries | BackendCapabilities.HasStacks | BackendCapabilities.ReportsLate | BackendCapabilities.ReadsThreadTraces
        | (_script == DTraceScriptKind.Lines ? BackendCapabilities.CountsSharedConnections | BackendCapabilities.KeepsWorkItemLines : BackendCapabilities.None);

    /// <summary>
    /// The script the process's instance runs, set before it is created: Linux's own. The tests set the other systems' on
    /// Linux to run their path here, in a process strace traces: to print <c>ustack()</c> DTrace for Linux may otherwise
    /// ptrace the app and plant a breakpoint in its dynamic linker, which the runtime aborts at (its next dlopen or
    /// dlclose, the dotnet host's at exit among them; <see cref="SyscallProviderScript"/>). Not for apps.
    /// </summary>
    internal static DTraceScriptKind ScriptKind { get; set; } = DTraceScriptKind.Lines;

    /// <inheritdoc cref="ManagedCodeMap.WaitUntilCurrent"/>
    internal bool WaitUntilCodeMapCurrent(TimeSpan timeout) => Attachment?.Map.WaitUntilCurrent(timeout) ?? false;

    /// <summary>The process's instance, if the machine can run it: checks the machine, starts nothing.</summary>
    internal static DTraceBackend? TryCreate(out string reason)
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            reason = $"the dtrace backend's system call table covers x64, not {RuntimeInformation.ProcessArchitecture}";
            return null;
        }

        if (LibcInterop.GetEuid() != 0)
        {
            reason = "the process is not root, which dtrace needs";
            return null;
        }

        if (FindDTrace(out reason) is not { } dtrace)
        {
            return null;
        }

        var script = ScriptKind;
        var how = script == DTraceScriptKind.Lines ? "reports the IO calls of traced threads" : "aggregates the IO calls of traced threads (the syscall provider's script)";
        reason = $"dtrace ({dtrace}): one dtrace process {how}; the in-process backend serves until it is attached";
        lock (s_sharedLock)
        {
            return s_shared ??= new DTraceBackend(dtrace, script, BackendDiagnostics.Shared);
        }
    }

    public override Task OnTraceStopped(TraceSession session)
    {
        if (!Traces.TryGetValue(session.Id, out var trace) || Attachment is not { } attachment)
        {
            return Task.CompletedTask;
        }

        // The first flush requested after this stop (not requested yet), or the one after it where the script prints a
        // flush late.
        trace.Flush = attachment.Output.LastRequested + 1 + attachment.Output.FlushesLate;
        trace.StopTimestamp = session.StopTimestamp;
        attachment.Output.RequestFlush();
        return trace.Flushed.Task;
    }

    // The script's generations are its own (a D array): the fd is described as it is now. Asked as the tracer's own
    // calls: a trace may own the fd (a connect under way), and would count them.
    public override string? DescribeFd(int fd, long generation)
    {
        using var hidden = ThreadTraces.Hide();
        return FdTargets.Resolve(fd);
    }

    /// <summary>
    /// Marks the connection's socket in the script (<see cref="DTraceScript.SharedOption"/>): its reads and writes outside
    /// traces are then printed under the connection's id, and counted as they are read (<see cref="FlushCharger"/>).
    /// Unmarked when its last user stops, and by the script when the socket is closed.
    /// </summary>
    public override void FollowSharedConnection(SharedConnection connection, bool follow)
    {
        try
        {
            if (Attachment is null || _script != DTraceScriptKind.Lines)
            {
                return;
            }

            lock (_marked)
            {
                // A reconnected client's new socket is found again; its old connection is closed.
                if (follow && !SharedConnections.StillConnected(connection))
                {
                    connection.Close();
                    return;
                }

                // A number reused by another connection since stays that one's.
                if (follow)
                {
                    _marked[connection.Fd] = connection.Id;
                }
                else if (!_marked.TryGetValue(connection.Fd, out var id) || id != connection.Id || !_marked.Remove(connection.Fd))
                {
                    return;
                }

                _ = LibcInterop.Prctl(DTraceScript.SharedOption, connection.Fd, follow ? (nint)connection.Id : 0, _marked.Count, 0);
            }
        }
        catch (Exception e)
        {
            Diagnostics.TracerFailed(e);
        }
    }

    protected override DTraceTrace CreateTrace(TraceSession session) => new(session);

    protected override DTraceAttachment? Attach(out string reason)
    {
        if (!ManagedCodeMap.TryStart(TimeSpan.FromSeconds(10), out var map, out reason) || map is null)
        {
            reason = $"the runtime's JIT events could not be read: {reason}";
            return null;
        }

        if (TraceSlotTable.Shared(out reason) is not { } slots)
        {
            map.Dispose();
            return null;
        }

        slots.MapThreadPages();
        var attributor = new StackAttributor(map, new PlainStackWalk());
        DTraceAttachment attachment;
        try
        {
            var recording = Environment.GetEnvironmentVariable(RecordingVariable);
            if (_script == DTraceScriptKind.Lines)
            {
                var libc = LibcUnwindTable.Load(ProcessMaps.Self);
                var script = DTraceScript.Generate(Environment.ProcessId, slots.Address, LibcRuleTable.SystemCallSites(libc), LibcRuleTable.Shared(libc), RuntimeCode.Of(ProcessMaps.Executable()));
                var process = DTraceProcess.Start(_dtrace, script, s_attachTimeout, recording);
                attachment = new DTraceAttachment(process, map, slots, ThreadTraces.Subscribe(slots));
                var charger = new FlushCharger(Traces, attributor);
                process.Flushed += (flush, calls) => Guarded(() =>
                {
                    charger.Charge(calls);
                    OnFlushed(attachment, flush);
                });
            }
            else
            {
                // Every strategy's calls: the trace's own strategy picks what it counts, as it charges them.
                var platform = DTracePlatform.Current ?? throw new InvalidOperationException("dtrace does not run on this system");
                var script = SyscallProviderScript.Generate(platform, Environment.ProcessId, slots.Address, Strategy.All);
                var process = SyscallProviderProcess.Start(_dtrace, script, s_attachTimeout, recording);
                attachment = new DTraceAttachment(process, map, slots, ThreadTraces.Subscribe(slots));
                var charger = new AggregateCharger(platform, id => Traces.TryGetValue(id, out var trace) ? trace.Session : null, attributor);
                process.Flushed += (flush, printed) => Guarded(() =>
                {
                    charger.Charge(printed);
                    OnFlushed(attachment, flush);
                });
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            map.Dispose();
            reason = $"dtrace could not run the backend's script: {e.Message}";
            return null;
        }

        // On the threads that read dtrace and ask for its flushes, which must go on: a failure is logged once.
        attachment.Output.Heartbeat += () => Guarded(() => ExpireOverdueTraces(s_flushTimeout));
        attachment.Output.Lost += what => LoseCalls($"dtrace dropped records ({what}); the reports of the traces running then are marked incomplete");
        attachment.Output.Failed += r => Fail(r);
        return attachment;
    }

    /// <summary>The dtrace executable: the one <c>IOTRACE_DTRACE</c> names, else the first on the PATH, in /usr/sbin or /usr/local/sbin (sudo's PATH may lack them).</summary>
    internal static string? FindDTrace(out string reason)
    {
        if (Environment.GetEnvironmentVariable(DTraceVariable) is { Length: > 0 } named)
        {
            reason = File.Exists(named) ? string.Empty : $"{named} ({DTraceVariable}) does not exist";
            return reason.Length == 0 ? named : null;
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        var found = path.Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/sbin").Append("/usr/local/sbin")
            .Select(directory => Path.Combine(directory, "dtrace"))
            .FirstOrDefault(File.Exists);
        reason = found is null
            ? "dtrace is not installed: no dtrace on the PATH, in /usr/sbin or /usr/local/sbin (on Linux, Oracle's DTrace for Linux; IOTRACE_DTRACE names another file)"
            : string.Empty;
        return found;
    }

    /// <summary>
    /// On the output thread, once a flush is charged: completes the traces that waited for it or an earlier one, and asks
    /// for the next flush while stopped traces wait for a later one (a script that prints a flush late).
    /// </summary>
    private void OnFlushed(DTraceAttachment attachment, long flush)
    {
        attachment.Slots.MapThreadPages();
        var waiting = false;
        foreach (var trace in Traces.Values)
        {
            if (trace.StopTimestamp != 0 && trace.Flush <= flush)
            {
                Complete(trace);
            }
            else
            {
                waiting |= trace.StopTimestamp != 0;
            }
        }

        if (waiting)
        {
            attachment.Output.RequestFlush();
        }
    }

    private void Guarded(Action action)
    {
        try
        {
            action();
        }
#pragma warning disable CA1031 // The tracer never breaks the app: its failures are logged, the reading goes on.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Diagnostics.TracerFailed(e);
        }
    }
}
