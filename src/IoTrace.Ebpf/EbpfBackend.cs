using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.Versioning;
using IoTrace.Backends;
using IoTrace.Backends.InProcess;
using IoTrace.Core;
using IoTrace.Ebpf.Attribution;
using IoTrace.Ebpf.Kernel;
using IoTrace.Ebpf.Symbols;

namespace IoTrace.Ebpf;

/// <summary>
/// Linux, root (or CAP_BPF and CAP_PERFMON), bpftrace installed: counts IO calls in the kernel, so it also sees
/// calls that bypass the runtime's native library (a P/Invoke straight into libc, a native driver). bpftrace attaches
/// once, in the background, and stays attached; until it is ready, and after it fails, traces run on the in-process
/// backend and say so in their report. Call sites come from the kernel's user stacks, resolved in process through
/// the runtime's JIT events (<see cref="ManagedCodeMap"/>) and the app's PDBs.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class EbpfBackend : IIoTraceBackend, IReportsFailures
{
    public const string BackendName = "ebpf";

    private static readonly TimeSpan s_attachTimeout = TimeSpan.FromSeconds(30);
    private static readonly double s_nanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    /// <summary>
    /// How long a stopped trace waits for the flush that completes it before its report is cut short (marked
    /// incomplete): bpftrace stalled, or the flush thread stuck. Checked every second. Tests shorten it.
    /// </summary>
    internal static TimeSpan FlushTimeout { get; set; } = TimeSpan.FromSeconds(10);

    private readonly IIoTraceBackend? _fallback;
    private readonly string _bpftracePath;
    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<long, KernelTrace> _traces = new();
    private Action<Exception>? _reportFailure;
    private Action<string, string>? _reportBackendFailed;
    private Action<string, string>? _reportCallsLost;
    private Attachment? _attachment;
    private Task<string?>? _starting;

    // Bumped by Shutdown: an attach still under way then finds itself stale and undoes itself.
    private int _generation;
    private volatile bool _ready;
    private string? _failure;
    private int _lossReported;

    private EbpfBackend(IIoTraceBackend? fallback, string bpftracePath)
    {
        _fallback = fallback;
        _bpftracePath = bpftracePath;
    }

    public string Name => BackendName;

    /// <summary>Why the backend stopped (bpftrace died, a map filled up), or null while it works.</summary>
    internal string? Failure => Volatile.Read(ref _failure);

    /// <summary>Whether bpftrace is attached and new traces run in the kernel.</summary>
    internal bool IsAttached => _ready;

    /// <summary>bpftrace's process id while it runs (tests kill it to check the fallback).</summary>
    internal int? BpftraceProcessId => _attachment?.Bpftrace.ProcessId;

    /// <summary>Why bpftrace prints its maps instead of the process reading them; null while the process reads them.</summary>
    internal string? MapsPrintedBecause => _attachment?.Bpftrace.MapsPrintedBecause;

    /// <summary>
    /// Waits until the code map holds everything jitted before this call (for tests that need a method known before
    /// their trace; a flush itself waits when a stack holds code the map does not know yet).
    /// </summary>
    internal bool WaitUntilCodeMapCurrent(TimeSpan timeout) => _attachment?.Map.WaitUntilCurrent(timeout) ?? false;

    /// <summary>
    /// Tests: whether native libraries already loaded are learned ahead (at attach, and at each flush); without it they
    /// are learned only from the stacks that stop in them, as a library loaded during a request is.
    /// </summary>
    internal static bool LearnLoadedLibrariesAhead { get; set; } = true;

    /// <summary>The first lessons of the native libraries the current attachment learned to unwind (for tests and docs).</summary>
    internal IReadOnlyList<NativeUnwindRules.FirstLesson> NativeFirstLessons => _attachment?.Natives.FirstLessons ?? [];

    /// <summary>Tests: sends the kernel one unwind rule, as a lesson does (0 takes it away; the process still counts it as taught).</summary>
    internal void SendUnwindRule(ulong returnAddress, long packedRule)
    {
        if (_attachment is { } attachment)
        {
            TraceSlotTable.LearnUnwind(returnAddress, packedRule, attachment.Bpftrace.ReaderThreadId);
        }
    }

    /// <summary>Tests: sees each flush on the processing thread, before it is charged to its traces.</summary>
    internal Action<KernelFlush>? FlushApplying { get; set; }

    /// <summary>Called by the core through <see cref="BackendSelector"/>: checks the machine, starts nothing.</summary>
    internal static bool TryCreate(IIoTraceBackend? inProcess, out IIoTraceBackend? backend, out string reason)
    {
        backend = null;
        if (!OperatingSystem.IsLinux())
        {
            reason = "eBPF needs Linux";
            return false;
        }

        if (!Prerequisites.Check(out var bpftrace, out reason))
        {
            return false;
        }

        backend = new EbpfBackend(inProcess, bpftrace);
        reason = $"Linux: counting IO calls in the kernel with {bpftrace} (root or CAP_BPF); the in-process backend serves until it is attached";
        return true;
    }

    public void Wire(Action<Exception> failure, Action<string, string> backendFailed, Action<string, string> callsLost)
    {
        _reportFailure = failure;
        _reportBackendFailed = backendFailed;
        _reportCallsLost = callsLost;
    }

    public bool TryEnable(out string reason)
    {
        var starting = Start();
        if (!starting.Wait(s_attachTimeout))
        {
            reason = $"bpftrace did not attach within {s_attachTimeout.TotalSeconds:0} s";
            return false;
        }

        reason = starting.Result ?? string.Empty;
        return starting.Result is null;
    }

    public void OnTraceStarted(TraceSession session)
    {
        if (!_ready)
        {
            if (Failure is null)
            {
                _ = Start();
            }

            OnFallbackStarted(session);
            return;
        }

        session.HookedInProcess = false;
        session.Backend = BackendName;
        var trace = new KernelTrace(session, TraceContext.KernelTrace);
        _traces[session.Id] = trace;
        TraceContext.KernelTrace = session;
    }

    public Task OnTraceStopped(TraceSession session)
    {
        if (session.HookedInProcess)
        {
            return _fallback?.OnTraceStopped(session) ?? Task.CompletedTask;
        }

        session.Deactivate();
        if (!_traces.TryGetValue(session.Id, out var trace))
        {
            // The backend failed or shut down meanwhile: the session was marked incomplete then.
            RestoreFlow(session, null);
            return Task.CompletedTask;
        }

        RestoreFlow(session, trace.Previous);
        trace.StopNanoseconds = (long)(session.StopTimestamp * s_nanosecondsPerTick);
        TraceSlotTable.RequestFlush();
        return trace.Flushed.Task;
    }

    public void Shutdown()
    {
        Attachment? attachment;
        lock (_lock)
        {
            attachment = _attachment;
            _attachment = null;
            _starting = null;
            _ready = false;
            _failure = null;
            _generation++;
        }

        attachment?.Dispose();
        AbandonTraces();
        _fallback?.Shutdown();
    }

    private static void RestoreFlow(TraceSession session, TraceSession? previous)
    {
        if (ReferenceEquals(TraceContext.KernelTrace, session))
        {
            TraceContext.KernelTrace = previous is { IsActive: true } ? previous : null;
        }
    }

    private void OnFallbackStarted(TraceSession session)
    {
        if (_fallback is null)
        {
            session.MarkIncomplete();
            return;
        }

        session.Backend = _fallback.Name;
        _fallback.OnTraceStarted(session);
    }

    /// <summary>Attaches in the background, once; the task gives null when ready, or the reason it is not.</summary>
    private Task<string?> Start()
    {
        lock (_lock)
        {
            if (_failure is { } failure)
            {
                return Task.FromResult<string?>(failure);
            }

            if (_starting is { } starting)
            {
                return starting;
            }

            // The first trace may start it: its context must not flow into bpftrace's and the code map's threads,
            // or their own IO would be charged to that request.
            var generation = _generation;
            using (ExecutionContext.SuppressFlow())
            {
                return _starting = Task.Run(() => Attach(generation));
            }
        }
    }

    private async Task<string?> Attach(int generation)
    {
        var stopwatch = Stopwatch.StartNew();
        if (!ManagedCodeMap.TryStart(TimeSpan.FromSeconds(10), out var map, out var reason) || map is null)
        {
            return Fail($"the runtime's JIT events could not be read: {reason}");
        }

        if (TraceSlotTable.Shared(out reason) is not { } slots)
        {
            map.Dispose();
            return Fail(reason);
        }

        slots.MapThreadPages();
        var bpftrace = new BpftraceProcess(_bpftracePath, slots.Address);
        var shortcuts = new StackShortcuts(
            (hash, rules) => TraceSlotTable.Shortcut(hash, rules, bpftrace.ReaderThreadId),
            (hash, rules) => TraceSlotTable.ForgetShortcut(hash, rules, bpftrace.ReaderThreadId),
            BpftraceProcess.MapKeys);
        var natives = new NativeUnwindRules(
            (ip, rule) => TraceSlotTable.LearnUnwind(ip, rule, bpftrace.ReaderThreadId),
            Math.Min(BpftraceProcess.MapKeys, NativeUnwindRules.MaxRules));
        var images = new FileImages();
        var frameless = new FramelessFrames(images, (ip, cfaOffset) =>
        {
            TraceSlotTable.LearnFrameless(ip, cfaOffset, bpftrace.ReaderThreadId);
            TraceSlotTable.AddFramelessBit(BpftraceScript.FramelessBloomBit(ip));
        });
        var attachment = new Attachment(bpftrace, map, new StackAttributor(map, shortcuts, natives, images, frameless), natives, slots, this);
        lock (_lock)
        {
            if (generation != _generation)
            {
                attachment.Dispose();
                return "the backend was shut down while attaching";
            }

            _attachment = attachment;
        }

        TraceContext.KernelTraceChanged = slots.Publish;
        bpftrace.Exited += r => Fail(r);
        bpftrace.Lost += OnLost;
        bpftrace.Flushed += attachment.Enqueue;
        bpftrace.Start();
        bool ready;
        try
        {
            ready = await bpftrace.Ready.WaitAsync(s_attachTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return Fail($"bpftrace did not attach its probes within {s_attachTimeout.TotalSeconds:0} s");
        }

        if (!ready)
        {
            return Failure ?? Fail("bpftrace ended before its probes were attached");
        }

        // Libraries the app loads from now on are learned as they load, before their first call; those it loaded
        // already (SQLite's, used at startup), here: their first calls traced walk through them.
        attachment.Loads = NativeLibraryLoads.TryStart(natives.AppDirectory, () => TeachAppLibraries(natives, loaded: true), e => _reportFailure?.Invoke(e), out _);
        TeachAppLibraries(natives);

        lock (_lock)
        {
            if (generation != _generation)
            {
                return "the backend was shut down while attaching";
            }

            AttachDuration = stopwatch.Elapsed;
            _ready = true;
        }

        return null;
    }

    /// <summary>From starting to probes attached, the last time the backend attached.</summary>
    internal TimeSpan AttachDuration { get; private set; }

    private string Fail(string reason)
    {
        Attachment? attachment;
        lock (_lock)
        {
            if (_failure is not null)
            {
                return _failure;
            }

            _failure = reason;
            _ready = false;
            attachment = _attachment;
            _attachment = null;
        }

        _reportBackendFailed?.Invoke(BackendName, $"{reason}; traces fall back to the in-process backend, and those that were running report incomplete");
        attachment?.Dispose();
        AbandonTraces();
        return reason;
    }

    private void OnLost(long events)
    {

        // Some flush markers or prints may be gone: the running traces cannot be trusted to be whole.
        foreach (var trace in _traces.Values)
        {
            trace.Session.MarkIncomplete();
        }

        if (Interlocked.Exchange(ref _lossReported, 1) == 0)
        {
            _reportCallsLost?.Invoke(BackendName, $"bpftrace lost {events} events; the reports of the traces running then are marked incomplete");
        }
    }

    private void AbandonTraces()
    {
        foreach (var (id, trace) in _traces)
        {
            if (_traces.TryRemove(id, out _))
            {
                trace.Session.MarkIncomplete();
                trace.Flushed.TrySetResult();
            }
        }
    }

    /// <summary>Charges one flush to the traces it names; runs on the attachment's processing thread.</summary>
    private void Apply(KernelFlush flush, StackAttributor attributor)
    {
        bool? waited = null;
        try
        {
            FlushApplying?.Invoke(flush);

            // Calls that open an fd first: a later call on that fd with no app frame gets the opener's line.
            foreach (var aggregate in flush.Aggregates.Values)
            {
                if (aggregate.Fd >= 0 && _traces.TryGetValue(aggregate.Trace, out var trace) && trace.Session.KeepsContext)
                {
                    if (IsOpener(aggregate.Probe))
                    {
                        var site = attributor.Resolve(trace.Session.Resolver, aggregate.Stack, ref waited);
                        if (site.IsApplication)
                        {
                            trace.Openers[(aggregate.Fd, aggregate.Generation)] = site;
                        }
                    }
                }
            }

            foreach (var ((id, fd, generation), path) in flush.Targets)
            {
                if (_traces.TryGetValue(id, out var trace))
                {
                    trace.Targets[(fd, generation)] = path;
                }
            }

            // After the targets: an open's path may be named in this very flush.
            foreach (var ((id, fd, generation), pathId) in flush.OpenedPaths)
            {
                if (_traces.TryGetValue(id, out var trace) && trace.Targets.TryGetValue(((int)(-1 - pathId), 0), out var path))
                {
                    trace.Targets[(fd, generation)] = path;
                }
            }

            var touched = new HashSet<KernelTrace>();
            foreach (var aggregate in flush.Aggregates.Values)
            {
                if (!_traces.TryGetValue(aggregate.Trace, out var trace))
                {
                    continue;
                }

                touched.Add(trace);
                var session = trace.Session;
                if (!session.Records(aggregate.Probe))
                {
                    continue;
                }

                if (!session.KeepsContext)
                {
                    session.RecordMany(aggregate.Probe, null, -1, null, aggregate.Calls, aggregate.Bytes, aggregate.WallNanoseconds, aggregate.CpuNanoseconds);
                    continue;
                }

                var site = attributor.Resolve(session.Resolver, aggregate.Stack, ref waited);
                if (site == StackAttributor.StoppedInNativeCode)
                {
                    // Reported without a line, as one row with the calls that have none.
                    site = SourceLocation.Unknown;
                }
                else if (!site.IsApplication && aggregate.Fd >= 0 && trace.Openers.TryGetValue((aggregate.Fd, aggregate.Generation), out var opener))
                {
                    site = opener;
                }

                var target = TargetOf(trace, aggregate);
                if (!site.IsApplication && HttpClientPeers.IsIpPeer(target))
                {
                    trace.WithoutLine.Add((aggregate, site, target!));
                    continue;
                }

                session.RecordMany(aggregate.Probe, site, Math.Max(aggregate.Fd, -1), target, aggregate.Calls, aggregate.Bytes, aggregate.WallNanoseconds, aggregate.CpuNanoseconds);
            }

            if (flush.Events > flush.CountedCalls)
            {
                // The kernel counted calls that no map kept: a map was full, or a probe wrote after its buffer was
                // printed. Which trace it belonged to is unknown: every trace not yet complete may be short.
                foreach (var trace in touched.Concat(_traces.Values))
                {
                    trace.Session.MarkIncomplete();
                }

                if (Interlocked.Exchange(ref _lossReported, 1) == 0)
                {
                    _reportCallsLost?.Invoke(BackendName, $"{flush.Events - flush.CountedCalls} calls were counted but not kept (a kernel map was full, or a probe outlived its buffer); the reports of the traces involved are marked incomplete");
                }
            }
        }
        catch (Exception e)
        {
            _reportFailure?.Invoke(e);
        }

        // Every call that returned before the flush began is in it or an earlier one: traces stopped before are whole.
        foreach (var (id, trace) in _traces)
        {
            var stopped = trace.StopNanoseconds;
            if (stopped != 0 && stopped < flush.TimestampNanoseconds && _traces.TryRemove(id, out _))
            {
                RecordWithoutLine(trace);
                trace.Flushed.TrySetResult();
            }
        }
    }

    /// <summary>Completes, incomplete, the stopped traces that waited longer than <see cref="FlushTimeout"/> for their flush.</summary>
    private void ExpireOverdueTraces()
    {
        var overdue = (long)(Stopwatch.GetTimestamp() * s_nanosecondsPerTick) - (long)FlushTimeout.TotalNanoseconds;
        foreach (var (id, trace) in _traces)
        {
            var stopped = trace.StopNanoseconds;
            if (stopped != 0 && stopped < overdue && _traces.TryRemove(id, out _))
            {
                trace.Session.MarkIncomplete();
                trace.Flushed.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Records a whole trace's calls on IP peers that had no application line: HttpClient's, made on the thread pool,
    /// get the line of the trace's requests to that peer when exactly one line made them (see <see cref="HttpClientPeers"/>).
    /// </summary>
    private void RecordWithoutLine(KernelTrace trace)
    {
        if (!trace.HasCallsWithoutLine)
        {
            return;
        }

        try
        {
            var lines = HttpClientPeers.Lines(trace.Session.HttpRequests(), static (host, port) => HttpClientConnections.AddressesOf(host, port, TimeSpan.FromMilliseconds(500)));
            foreach (var (aggregate, site, target) in trace.WithoutLine)
            {
                trace.Session.RecordMany(aggregate.Probe, lines.GetValueOrDefault(target) ?? site, aggregate.Fd, target, aggregate.Calls, aggregate.Bytes, aggregate.WallNanoseconds, aggregate.CpuNanoseconds);
            }
        }
        catch (Exception e)
        {
            _reportFailure?.Invoke(e);
        }
    }

    /// <summary>Unwind rules only sharpen lines: whatever goes wrong learning them is logged once, and tracing goes on.</summary>
    private void TeachAppLibraries(NativeUnwindRules natives, bool loaded = false)
    {
        if (!LearnLoadedLibrariesAhead)
        {
            return;
        }

        try
        {
            natives.TeachAppLibraries(loaded);
        }
        catch (Exception e)
        {
            // Reported once through the backend's failure log; the flush and the attach go on.
            _reportFailure?.Invoke(e);
        }
    }

    private static string? TargetOf(KernelTrace trace, KernelAggregate aggregate)
    {
        if (aggregate.Fd < -1)
        {
            // A stat by path: its fd field holds the path's id (BpftraceScript.PathId).
            return trace.Targets.GetValueOrDefault((aggregate.Fd, aggregate.Generation));
        }

        if (aggregate.Fd < 0)
        {
            return null;
        }

        if (!trace.Targets.TryGetValue((aggregate.Fd, aggregate.Generation), out var target))
        {
            // Opened before the trace (a pooled connection, a log file): the fd is most likely still open now.
            target = FdTargets.Resolve(aggregate.Fd);
            trace.Targets[(aggregate.Fd, aggregate.Generation)] = target;
        }

        return target;
    }

    private static readonly int[] s_openers = [.. new[] { "openat", "open", "socket", "connect", "accept", "accept4" }.Select(Probes.IndexOf)];

    private static bool IsOpener(int probe) => Array.IndexOf(s_openers, probe) >= 0;

    /// <summary>One attach: bpftrace, the code map, and the thread that applies flushes in order.</summary>
    private sealed class Attachment : IDisposable
    {
        private readonly BlockingCollection<KernelFlush> _flushes = new(boundedCapacity: 10_000);
        private readonly EbpfBackend _backend;
        private readonly StackAttributor _attributor;

        private readonly TraceSlotTable _slots;

        // One timer for every waiting trace, rather than one each: see FlushTimeout.
        private readonly Timer _watchdog;

        public Attachment(BpftraceProcess bpftrace, ManagedCodeMap map, StackAttributor attributor, NativeUnwindRules natives, TraceSlotTable slots, EbpfBackend backend)
        {
            _slots = slots;
            Natives = natives;
            Bpftrace = bpftrace;
            Map = map;
            _attributor = attributor;
            _backend = backend;
            new Thread(Process) { IsBackground = true, Name = "IoTrace eBPF flushes" }.UnsafeStart();
            var flow = ExecutionContext.IsFlowSuppressed() ? (AsyncFlowControl?)null : ExecutionContext.SuppressFlow();
            try
            {
                _watchdog = new Timer(static state => ((EbpfBackend)state!).ExpireOverdueTraces(), backend, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
            }
            finally
            {
                flow?.Undo();
            }
        }

        public BpftraceProcess Bpftrace { get; }

        public ManagedCodeMap Map { get; }

        public NativeUnwindRules Natives { get; }

        /// <summary>The watch that learns libraries as they load; null without the shim.</summary>
        public NativeLibraryLoads? Loads { get; set; }

        public void Enqueue(KernelFlush flush)
        {
            if (!_flushes.IsAddingCompleted)
            {
                try
                {
                    _flushes.Add(flush);
                }
                catch (InvalidOperationException)
                {
                    // Completed meanwhile: the attachment is going away.
                }
            }
        }

        public void Dispose()
        {
            Loads?.Dispose();
            _watchdog.Dispose();
            _flushes.CompleteAdding();
            Bpftrace.Dispose();
            Map.Dispose();
        }

        private void Process()
        {
            // At bpftrace's priority: behind on a saturated CPU, flushes queue up with all their aggregates, and the
            // traces waiting for them keep what they hold alive, which every garbage collection then copies.
            BpftraceProcess.RaiseCurrentThreadPriority();
            foreach (var flush in _flushes.GetConsumingEnumerable())
            {
                // Before the flush's stacks: a library loaded since (SQLite's, at a connection's first use) is learned
                // before its calls are seen, and if it was loaded before they were made, they walk through it already.
                _backend.TeachAppLibraries(Natives);
                _backend.Apply(flush, _attributor);
                _slots.MapThreadPages();
            }
        }
    }
}
