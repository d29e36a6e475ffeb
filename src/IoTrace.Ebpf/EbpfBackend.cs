using System.Diagnostics;
using System.Runtime.Versioning;
using IoTrace.Backends;
using IoTrace.Backends.Attached;
using IoTrace.Tracing;
using IoTrace.Ebpf.Attribution;
using IoTrace.Ebpf.Kernel;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf;

/// <summary>
/// Linux, root (or CAP_BPF and CAP_PERFMON), libbpf installed: counts IO calls in the kernel, so it also sees calls
/// that bypass the runtime's native library (a P/Invoke straight into libc, a native driver). Its kernel program is
/// loaded once, in the background, and stays attached (<see cref="EbpfAttachment"/>); until it is ready, and after it fails, the
/// in-process backend serves (<see cref="AttachedBackend{TAttachment, TTrace}"/>).
/// Call sites come from the kernel's user stacks, resolved in process through the runtime's JIT events
/// (<see cref="ManagedCodeMap"/>) and the app's PDBs.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class EbpfBackend : AttachedBackend<EbpfAttachment, KernelTrace>
{
    public const string BackendName = IoTraceEbpf.Name;

    private static readonly TimeSpan s_attachTimeout = TimeSpan.FromSeconds(30);
    private static readonly Lock s_sharedLock = new();
    private static EbpfBackend? s_shared;

    private EbpfBackend(KernelTracepoints tracepoints, IBackendDiagnostics diagnostics)
        : base(diagnostics, s_attachTimeout)
    {
        Tracepoints = tracepoints;
    }

    /// <summary>
    /// How long a stopped trace waits for the flush that completes it before its report is cut short (marked
    /// incomplete): the flush thread stuck or starved. Checked every second. Tests shorten it.
    /// </summary>
    internal static TimeSpan FlushTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Tests: whether native libraries already loaded are learned ahead (at attach, and at each flush); without it they
    /// are learned only from the stacks that stop in them, as a library loaded during a request is.
    /// </summary>
    internal static bool LearnLoadedLibrariesAhead { get; set; } = true;

    public override string Name => BackendName;

    /// <summary>CPU time needs the task's fields, read through BTF: without it the report says CPU is unavailable, never 0.</summary>
    public override BackendCapabilities Capabilities =>
        BackendCapabilities.SeesNativeLibraries | BackendCapabilities.HasStacks | BackendCapabilities.ReportsLate | BackendCapabilities.ReadsThreadTraces
        | BackendCapabilities.CountsSharedConnections | BackendCapabilities.KeepsWorkItemLines
        | (Tracepoints == KernelTracepoints.Btf ? BackendCapabilities.MeasuresCpu : 0);

    /// <summary>How the kernel program attaches (chosen once per process, see <see cref="KernelProbes.Choose"/>).</summary>
    public KernelTracepoints Tracepoints { get; }

    /// <summary>The loaded kernel program, while attached (tests).</summary>
    internal KernelProbes? Probes => Attachment?.Probes;

    /// <summary>From starting to probes attached, the last time the backend attached: the code map, the slot table, the kernel program, the app's native libraries learned.</summary>
    internal TimeSpan AttachDuration { get; private set; }

    /// <summary>Of <see cref="AttachDuration"/>, the kernel program's own load and attach.</summary>
    internal TimeSpan ProgramAttachDuration { get; private set; }

    /// <summary>Of <see cref="AttachDuration"/>, the start of the runtime's code map (its EventPipe session and rundown).</summary>
    internal TimeSpan CodeMapStartDuration { get; private set; }

    /// <summary>The kernel program's own detach, the last time the backend stopped.</summary>
    internal TimeSpan ProgramDetachDuration { get; private set; }

    /// <summary>
    /// Waits until the code map holds everything jitted before this call (for tests that need a method known before
    /// their trace; a flush itself waits when a stack holds code it does not know yet).
    /// </summary>
    internal bool WaitUntilCodeMapCurrent(TimeSpan timeout) => Attachment?.Map.WaitUntilCurrent(timeout) ?? false;

    /// <summary>The first lessons of the native libraries the current attachment learned to unwind (for tests and docs).</summary>
    internal IReadOnlyList<NativeUnwindRules.FirstLesson> NativeFirstLessons => Attachment?.Natives.FirstLessons ?? [];

    /// <summary>Tests: sends the kernel one unwind rule, as a lesson does (0 takes it away; the process still counts it as taught).</summary>
    internal void SendUnwindRule(ulong returnAddress, long packedRule) => Attachment?.Probes.LearnUnwind(returnAddress, packedRule);

    /// <summary>Tests: sees each flush on the processing thread, before it is charged to its traces.</summary>
    internal Action<KernelFlush>? FlushApplying { get; set; }

    /// <summary>The process's instance, if the machine can run it: checks the machine, starts nothing.</summary>
    internal static EbpfBackend? TryCreate(out string reason)
    {
        if (!Prerequisites.Check(out var tracepoints, out var how, out reason))
        {
            return null;
        }

        reason = $"Linux: counting IO calls in the kernel with its own BPF program on {how} (root or CAP_BPF); the in-process backend serves until it is attached";
        lock (s_sharedLock)
        {
            if (s_shared is not { } shared || shared.Tracepoints != tracepoints)
            {
                s_shared = shared = new EbpfBackend(tracepoints, BackendDiagnostics.Shared);
            }

            return shared;
        }
    }

    public override Task OnTraceStopped(TraceSession session)
    {
        if (!Traces.TryGetValue(session.Id, out var trace))
        {
            // The backend failed or stopped meanwhile: the session was marked incomplete then.
            return Task.CompletedTask;
        }

        trace.StopTimestamp = session.StopTimestamp;
        Attachment?.Probes.RequestFlush();
        return trace.Flushed.Task;
    }

    /// <summary>
    /// The fd as it is now, unless the kernel program's generation of its number says it was closed since that life (its
    /// close not flushed yet): the number may already be another file's. Asked as the tracer's own calls: a trace may own
    /// the fd (a connect under way), and would count them.
    /// </summary>
    public override string? DescribeFd(int fd, long generation)
    {
        var states = Attachment?.Probes.FdStates;
        if (states?.Generation(fd) is { } before && before != generation)
        {
            return null;
        }

        string? target;
        using (ThreadTraces.Hide())
        {
            target = FdTargets.Resolve(fd);
        }

        return states?.Generation(fd) is { } after && after != generation ? null : target;
    }

    /// <summary>
    /// Marks the connection's socket in the kernel program's fd states: its calls outside traces are then counted under
    /// the connection's id, delivered with each flush (<see cref="FlushCharger"/>). Unmarked when its last user stops.
    /// </summary>
    public override void FollowSharedConnection(SharedConnection connection, bool follow)
    {
        try
        {
            if (Attachment?.Probes.FdStates is not { } states)
            {
                return;
            }

            if (follow)
            {
                // A reconnected client's new socket is found again; its old connection is closed.
                if (!SharedConnections.StillConnected(connection))
                {
                    connection.Close();
                    return;
                }

                // Its reads and writes: the flush thread's own setup calls on it (getpeername, naming it) are not the
                // connection's, and the kernel cannot tell that thread apart.
                _ = states.Mark(connection.Fd, (ulong)connection.Id, SyscallTable.Read | SyscallTable.Write);
            }
            else
            {
                states.Unmark(connection.Fd, (ulong)connection.Id);
            }
        }
        catch (Exception e)
        {
            Diagnostics.TracerFailed(e);
        }
    }

    protected override KernelTrace CreateTrace(TraceSession session) => new(session);

    protected override EbpfAttachment? Attach(out string reason)
    {
        var stopwatch = Stopwatch.StartNew();
        if (EbpfAttachment.Create(Tracepoints, Traces, Diagnostics, () => ExpireOverdueTraces(FlushTimeout), out reason) is not { } attachment)
        {
            return null;
        }

        attachment.Charger.FlushApplying = flush => FlushApplying?.Invoke(flush);
        attachment.Probes.Failed += r => Fail(r);
        AttachDuration = stopwatch.Elapsed;
        ProgramAttachDuration = attachment.Probes.AttachDuration;
        CodeMapStartDuration = attachment.Map.StartDuration;
        return attachment;
    }

    protected override void OnDetached(EbpfAttachment attachment) => ProgramDetachDuration = attachment.Probes.DetachDuration;
}
