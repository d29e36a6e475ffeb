using System.Collections.Concurrent;
using System.Runtime.Versioning;
using IoTrace.Backends;
using IoTrace.Tracing;
using IoTrace.Ebpf.Attribution;
using IoTrace.Ebpf.Kernel;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;

namespace IoTrace.Ebpf;

/// <summary>
/// One attach of the eBPF backend: bpftrace and its program, the runtime's code map, what the process teaches the
/// program (unwind rules, stack shortcuts), and the thread that charges flushes in order.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class EbpfAttachment : IDisposable
{
    private readonly BlockingCollection<KernelFlush> _flushes = new(boundedCapacity: 10_000);
    private readonly ConcurrentDictionary<long, KernelTrace> _traces;
    private readonly IBackendDiagnostics _diagnostics;
    private readonly TraceSlotTable _slots;
    private readonly IDisposable _publishing;

    // One timer for every waiting trace, rather than one each: see EbpfBackend.FlushTimeout.
    private readonly Timer _watchdog;

    private EbpfAttachment(BpftraceProcess bpftrace, ManagedCodeMap map, TraceSlotTable slots, ConcurrentDictionary<long, KernelTrace> traces, IBackendDiagnostics diagnostics)
    {
        Bpftrace = bpftrace;
        Map = map;
        _slots = slots;
        _traces = traces;
        _diagnostics = diagnostics;

        var shortcuts = new StackShortcuts(
            (hash, rules) => TraceSlotTable.Shortcut(hash, rules, bpftrace.ReaderThreadId),
            (hash, rules) => TraceSlotTable.ForgetShortcut(hash, rules, bpftrace.ReaderThreadId),
            BpftraceProcess.MapKeys);
        Natives = new NativeUnwindRules(
            (ip, rule) => TraceSlotTable.LearnUnwind(ip, rule, bpftrace.ReaderThreadId),
            Math.Min(BpftraceProcess.MapKeys, NativeUnwindRules.MaxRules));
        var images = new FileImages();
        var frameless = new FramelessFrames(images, (ip, cfaOffset) =>
        {
            TraceSlotTable.LearnFrameless(ip, cfaOffset, bpftrace.ReaderThreadId);
            TraceSlotTable.AddFramelessBit(BpftraceScript.FramelessBloomBit(ip));
        });
        Charger = new FlushCharger(traces, new StackAttributor(map, new KernelStackWalk(shortcuts, Natives, frameless), images), diagnostics);

        _publishing = ThreadTraces.Subscribe(slots);
        bpftrace.Lost += Charger.OnLost;
        bpftrace.Flushed += Enqueue;
        new Thread(Process) { IsBackground = true, Name = "IoTrace eBPF flushes" }.UnsafeStart();
        using (SuppressedFlow.Begin())
        {
            _watchdog = new Timer(static state => EbpfBackend.ExpireOverdueTraces((ConcurrentDictionary<long, KernelTrace>)state!), traces, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }
    }

    public BpftraceProcess Bpftrace { get; }

    public ManagedCodeMap Map { get; }

    public NativeUnwindRules Natives { get; }

    public FlushCharger Charger { get; }

    /// <summary>The watch that learns libraries as they load; null without the shim.</summary>
    private NativeLibraryLoads? _loads;

    /// <summary>Reads the runtime's code map and maps the trace slot table; null, with the reason, where either fails.</summary>
    public static EbpfAttachment? Create(string bpftracePath, ConcurrentDictionary<long, KernelTrace> traces, IBackendDiagnostics diagnostics, out string reason)
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
        return new EbpfAttachment(new BpftraceProcess(bpftracePath, slots.Address), map, slots, traces, diagnostics);
    }

    /// <summary>Starts bpftrace and waits for its probes; then learns the app's native libraries. False if bpftrace ended first.</summary>
    /// <exception cref="TimeoutException">The probes were not attached within <paramref name="timeout"/>.</exception>
    public async Task<bool> StartAsync(TimeSpan timeout)
    {
        Bpftrace.Start();
        if (!await Bpftrace.Ready.WaitAsync(timeout).ConfigureAwait(false))
        {
            return false;
        }

        // Libraries the app loads from now on are learned as they load, before their first call; those it loaded
        // already (SQLite's, used at startup), here: their first calls traced walk through them.
        _loads = NativeLibraryLoads.TryStart(Natives.AppDirectory, () => TeachAppLibraries(loaded: true), _diagnostics.TracerFailed, out _);
        TeachAppLibraries();
        return true;
    }

    public void Dispose()
    {
        _publishing.Dispose();
        _loads?.Dispose();
        _watchdog.Dispose();
        _flushes.CompleteAdding();
        Bpftrace.Dispose();
        Map.Dispose();
    }

    private void Enqueue(KernelFlush flush)
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

    /// <summary>Unwind rules only sharpen lines: whatever goes wrong learning them is logged once, and tracing goes on.</summary>
    private void TeachAppLibraries(bool loaded = false)
    {
        if (!EbpfBackend.LearnLoadedLibrariesAhead)
        {
            return;
        }

        try
        {
            Natives.TeachAppLibraries(loaded);
        }
        catch (Exception e)
        {
            _diagnostics.TracerFailed(e);
        }
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
            TeachAppLibraries();
            Charger.Charge(flush);
            _slots.MapThreadPages();
        }
    }
}
