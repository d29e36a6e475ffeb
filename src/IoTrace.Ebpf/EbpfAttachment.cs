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
/// One attach of the eBPF backend: the kernel program, the runtime's code map, what the process teaches the program
/// (unwind rules, stack shortcuts), and the thread that charges flushes in order.
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

    private EbpfAttachment(KernelProbes probes, NativeUnwindRules natives, ManagedCodeMap map, TraceSlotTable slots, ConcurrentDictionary<long, KernelTrace> traces, IBackendDiagnostics diagnostics, Action expireOverdueTraces)
    {
        Probes = probes;
        Map = map;
        _slots = slots;
        _traces = traces;
        _diagnostics = diagnostics;

        var shortcuts = new StackShortcuts(probes.Shortcut, probes.ForgetShortcut, KernelProbes.MapKeys);
        Natives = natives;
        var images = new FileImages();
        var frameless = new FramelessFrames(images, probes.LearnFrameless);
        Charger = new FlushCharger(traces, new StackAttributor(map, new KernelStackWalk(shortcuts, Natives, frameless), images), diagnostics);

        _publishing = ThreadTraces.Subscribe(slots);
        probes.Lost += Charger.OnLost;
        probes.Flushed += Enqueue;
        new Thread(Process) { IsBackground = true, Name = "IoTrace eBPF flushes" }.UnsafeStart();
        using (SuppressedFlow.Begin())
        {
            _watchdog = new Timer(static state => ((Action)state!)(), expireOverdueTraces, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }
    }

    public KernelProbes Probes { get; }

    public ManagedCodeMap Map { get; }

    public NativeUnwindRules Natives { get; }

    public FlushCharger Charger { get; }

    /// <summary>The watch that learns libraries as they load; null without the shim.</summary>
    private NativeLibraryLoads? _loads;

    /// <summary>
    /// Maps the trace slot table; then, while the runtime's code map starts, loads and attaches the kernel program and
    /// teaches it libc's unwind rules, found on a third thread (each step takes 0.1 to 0.3 s, and they share nothing);
    /// then learns the app's native libraries. Null, with the reason, where any of it fails.
    /// </summary>
    public static EbpfAttachment? Create(KernelTracepoints tracepoints, ConcurrentDictionary<long, KernelTrace> traces, IBackendDiagnostics diagnostics, Action expireOverdueTraces, out string reason)
    {
        TraceSlotTable.SlotBits = SlotBits.Of;
        if (TraceSlotTable.Shared(out reason) is not { } slots)
        {
            return null;
        }

        slots.MapThreadPages();
        // Threads of their own: at startup the pool's few threads are busy, and the code map's session uses them too.
        _ = Task.Factory.StartNew(FindLibcCallers, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var loading = Task.Factory.StartNew(() => LoadKernelProgram(tracepoints, slots, diagnostics), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var mapStarted = ManagedCodeMap.TryStart(TimeSpan.FromSeconds(10), out var map, out var mapFailure);
        KernelProbes probes;
        NativeUnwindRules natives;
        try
        {
            (probes, natives) = loading.GetAwaiter().GetResult();
        }
        catch (InvalidOperationException e)
        {
            map?.Dispose();
            reason = $"the kernel program could not be loaded: {e.Message}";
            return null;
        }
        catch
        {
            map?.Dispose();
            throw;
        }

        if (!mapStarted || map is null)
        {
            probes.Dispose();
            reason = $"the runtime's JIT events could not be read: {mapFailure}";
            return null;
        }

        var attachment = new EbpfAttachment(probes, natives, map, slots, traces, diagnostics, expireOverdueTraces);
        probes.Start();

        // Libraries the app loads from now on are learned as they load, before their first call; those it loaded
        // already (SQLite's, used at startup), here: their first calls traced walk through them.
        attachment._loads = NativeLibraryLoads.TryStart(attachment.Natives.AppDirectory, () => attachment.TeachAppLibraries(loaded: true), diagnostics.TracerFailed, out _);
        attachment.TeachAppLibraries();
        return attachment;
    }

    /// <summary>The kernel program, attached, and the unwind rules it is taught, libc's already in it.</summary>
    private static (KernelProbes Probes, NativeUnwindRules Natives) LoadKernelProgram(KernelTracepoints tracepoints, TraceSlotTable slots, IBackendDiagnostics diagnostics)
    {
        var probes = KernelProbes.Attach(tracepoints, slots.Address, KernelProgram.LibcSites);
        var natives = new NativeUnwindRules(probes.LearnUnwind, NativeUnwindRules.MaxRules);
        if (EbpfBackend.LearnLoadedLibrariesAhead)
        {
            try
            {
                _ = natives.TeachLibc();
            }
#pragma warning disable CA1031 // Unwind rules only sharpen lines: libc's callers are then learned from stacks, one lesson at a time.
            catch (Exception e)
#pragma warning restore CA1031
            {
                diagnostics.TracerFailed(e);
            }
        }

        return (probes, natives);
    }

    /// <summary>Ahead of their first use; a failure is the first use's to report (<see cref="LoadKernelProgram"/>).</summary>
    private static void FindLibcCallers()
    {
        try
        {
            _ = KernelProgram.LibcCallers;
        }
#pragma warning disable CA1031 // Reported where the rules are taught: the Lazy keeps the exception.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    public void Dispose()
    {
        _publishing.Dispose();
        _loads?.Dispose();
        _watchdog.Dispose();
        _flushes.CompleteAdding();
        Probes.Dispose();
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
        // At the flush thread's priority: behind on a saturated CPU, flushes queue up with all their aggregates, and
        // the traces waiting for them keep what they hold alive, which every garbage collection then copies.
        KernelProbes.RaiseCurrentThreadPriority();
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
