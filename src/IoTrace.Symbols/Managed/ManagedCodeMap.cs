using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Reflection;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace IoTrace.Symbols.Managed;

/// <summary>
/// Maps native instruction addresses in this process's JIT'd code to the managed method, IL offset and source line,
/// for the raw user stacks the kernel hands the eBPF backend.
/// </summary>
/// <remarks>
/// Fed by an EventPipe session on this very process (the runtime's JIT, IL-map and loader events, parsed on a
/// background thread), plus a rundown of the code jitted before it started: a second, short session asked for
/// rundown and stopped as soon as the live one runs, so no method falls in between. Every code version of a
/// method (tier0, OSR, tier1) is kept with its own IL map until the runtime unloads the method. Never throws into
/// callers: failures show as false returns and <see cref="FailureReason"/>.
/// </remarks>
internal sealed class ManagedCodeMap : IDisposable
{
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";

    // Loader (0x8): module paths; Jit (0x10): MethodLoad/Unload; JittedMethodILToNativeMap (0x20000): IL maps.
    // No NGen (0x20): ReadyToRun code is not jitted, lives in the mapped image and has no IL map event.
    private const long RuntimeKeywords = 0x8 | 0x10 | 0x20000;

    // Rundown provider: Loader (0x8), Jit (0x10), End (0x100, the DCEnd events), JittedMethodILToNativeMap (0x20000).
    private const long RundownKeywords = 0x8 | 0x10 | 0x100 | 0x20000;

    private const int LiveBufferMB = 64;

    // A little over the runtime's flush period (100 ms), so a repeated marker lands in a later flush.
    private const long MarkerRepeatMilliseconds = 120;

    // The markers are process-wide and increasing, so two maps in one process never confuse each other's.
    private static long s_lastMarker;

    private readonly CodeRangeTable _table = new();
    private readonly ConcurrentDictionary<long, JittedMethod> _methods = new();
    private readonly ConcurrentDictionary<long, string> _modulePaths = new();
    private readonly ConcurrentDictionary<string, Module[]> _modulesByPath = new(StringComparer.Ordinal);
    private readonly PortablePdbLines _pdbLines = new();
    private readonly Func<JittedMethod, (MethodBase?, MethodLines?, bool)> _resolver;
    private readonly object _markerGate = new(); // Monitor.Wait needs an object, not a Lock.
    private readonly DiagnosticsClient _client = new(Environment.ProcessId);

    // Methods unloaded while the rundown is still being read, so its late DCEnd events do not bring them back.
    private readonly ConcurrentDictionary<long, byte> _unloadedDuringRundown = new();
    private const int MaxUnloadedRanges = 10_000;
    private readonly ConcurrentQueue<(ulong Start, ulong End)> _unloaded = new();
    private volatile bool _unloadedOverflow;
    private volatile bool _rundownDone;

    private EventPipeSession? _liveSession;
    private EventPipeEventSource? _liveSource;
    private Stream? _liveStream;
    private Thread? _liveThread;
    private long _markerSeen;
    private volatile bool _liveEnded;
    private volatile string? _failureReason;
    private volatile bool _disposed;
    private string _phases = "";

    private ManagedCodeMap()
    {
        _resolver = ResolveMethod;
    }

    /// <summary>Why the map stopped following the runtime (the session failed or ended); null while it works.</summary>
    public string? FailureReason => _failureReason;

    /// <summary>How many methods have jitted code in the map.</summary>
    public int MethodCount => _methods.Count;

    /// <summary>How many code versions (address ranges) the map holds.</summary>
    public int CodeRangeCount => _table.Count;

    /// <summary>How long <see cref="TryStart"/> took, and how many code ranges the rundown brought.</summary>
    public TimeSpan StartDuration { get; private set; }

    public int RundownCodeRanges { get; private set; }

    public long RundownBytes { get; private set; }

    /// <summary>Where the start time went, for diagnostics.</summary>
    public string StartPhases { get; private set; } = "";

    /// <summary>
    /// Starts the live session, reads the rundown of earlier code, and returns once both are in the map. False, with
    /// the reason, when the runtime refuses a session (diagnostics disabled) or <paramref name="timeout"/> passes.
    /// </summary>
    public static bool TryStart(TimeSpan timeout, out ManagedCodeMap? map, out string reason)
    {
        var started = Stopwatch.StartNew();
        var candidate = new ManagedCodeMap();
        try
        {
            if (candidate.TryStartCore(timeout, started, out reason))
            {
                candidate.StartDuration = started.Elapsed;
                map = candidate;
                return true;
            }
        }
#pragma warning disable CA1031 // Any failure of the diagnostics machinery means "no map", never an exception.
        catch (Exception e)
#pragma warning restore CA1031
        {
            reason = $"{e.GetType().Name}: {e.Message}";
        }

        candidate.Dispose();
        map = null;
        return false;
    }

    /// <summary>
    /// The next code range the runtime unloaded (collectible assemblies, dynamic methods): what was learned from its
    /// addresses may no longer hold. <paramref name="all"/> says more were unloaded than kept: forget everything.
    /// </summary>
    public bool TryTakeUnloaded(out (ulong Start, ulong End) range, out bool all)
    {
        all = _unloadedOverflow;
        if (all)
        {
            _unloadedOverflow = false;
            _unloaded.Clear();
            range = default;
            return true;
        }

        return _unloaded.TryDequeue(out range);
    }

    /// <summary>
    /// Resolves <paramref name="address"/>. For a return address (every frame but the innermost) the byte before it
    /// is looked up, so the call instruction's line is found rather than the next statement's.
    /// </summary>
    public bool TryResolve(ulong address, bool isReturnAddress, out ManagedFrame frame)
    {
        frame = default;
        try
        {
            var lookup = isReturnAddress ? address - 1 : address;
            if (address == 0 || _table.Find(lookup) is not { } code)
            {
                return false;
            }

            var nativeOffset = (int)(lookup - code.Start);
            var ilOffset = code.Map?.FindILOffset(nativeOffset) ?? -1;
            var jitted = code.Method;
            var (method, lines) = jitted.Resolve(_resolver);
            string? file = null;
            int? line = null;
            if (lines is not null && lines.TryFind(ilOffset, out var f, out var l))
            {
                file = f;
                line = l;
            }

            frame = new ManagedFrame(method, jitted.TypeName, jitted.MethodName, ilOffset, file, line, (int)(address - code.Start));
            return true;
        }
#pragma warning disable CA1031 // Lookups run on the backend's hot path: a bad address is a miss, never an exception.
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }

    /// <summary>
    /// Waits until every runtime event written before this call has been processed, so a lookup that missed can
    /// be retried against code jitted just before. False on timeout or when the session has ended.
    /// </summary>
    /// <remarks>
    /// The parser dispatches an event only once a later "sorted" event (the first of its thread's run in one of the
    /// runtime's ~100 ms flushes) or a sequence point arrives; on an idle process the marker could wait forever.
    /// So while waiting, another marker is written every slice: it lands in a later flush, which releases the first.
    /// </remarks>
    public bool WaitUntilCurrent(TimeSpan timeout)
    {
        if (_disposed || _liveEnded || !SymbolsEventSource.Log.IsEnabled())
        {
            return false;
        }

        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var target = WriteMarker();
        while (true)
        {
            lock (_markerGate)
            {
                if (_markerSeen >= target)
                {
                    return true;
                }

                var remaining = deadline - Stopwatch.GetTimestamp();
                if (remaining <= 0 || _liveEnded)
                {
                    return false;
                }

                var slice = Math.Min(remaining, Stopwatch.Frequency * MarkerRepeatMilliseconds / 1000);
                if (Monitor.Wait(_markerGate, TimeSpan.FromSeconds((double)slice / Stopwatch.Frequency)) && _markerSeen >= target)
                {
                    return true;
                }
            }

            // Seeing this later marker also means everything before the first one was seen.
            WriteMarker();
        }
    }

    private static long WriteMarker()
    {
        var sequence = Interlocked.Increment(ref s_lastMarker);
        SymbolsEventSource.Log.Marker(sequence);
        return sequence;
    }

    /// <summary>The code versions the map holds for <paramref name="method"/>, in address order (a linear scan).</summary>
    public CodeVersion[] GetCodeVersions(MethodBase method)
    {
        try
        {
            var id = (long)method.MethodHandle.Value;
            return [.. _table.FindMethod(id).Select(c => new CodeVersion(c.Start, c.End - c.Start, c.Tier, c.IsJitted, c.Map is not null))];
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException)
        {
            return [];
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;

        // Close our end first: the runtime's stop flushes into the socket while holding EventPipe's lock, and with
        // nobody reading (the parser is stopping) a full socket would block it; a closed one fails its writes at once.
        _liveSource?.StopProcessing();
        _liveStream?.Dispose();
        CloseQuietly(_liveSession);
        StopQuietly(_liveSession);
        _liveThread?.Join(TimeSpan.FromSeconds(2));
        _liveSource?.Dispose();
        _liveSession?.Dispose();
        _pdbLines.Dispose();
        lock (_markerGate)
        {
            _liveEnded = true;
            Monitor.PulseAll(_markerGate);
        }
    }

    private bool TryStartCore(TimeSpan timeout, Stopwatch started, out string reason)
    {
        // Make sure the marker source exists, so the session enables it as it starts.
        _ = SymbolsEventSource.Log;

        _liveSession = _client.StartEventPipeSession(new EventPipeSessionConfiguration(
            [
                new EventPipeProvider(RuntimeProvider, EventLevel.Verbose, RuntimeKeywords),
                new EventPipeProvider(SymbolsEventSource.ProviderName, EventLevel.Verbose, -1),
            ],
            LiveBufferMB,
            rundownKeyword: 0,
            requestStackwalk: false));

        var liveReady = new ManualResetEventSlim();
        Exception? liveStartError = null;
        _liveThread = new Thread(() => RunLive(liveReady, e => liveStartError = e))
        {
            IsBackground = true,
            Name = "IoTrace eBPF symbols",
        };
        _liveThread.UnsafeStart();

        // The live session is already enabled in the runtime (events are buffered from here on), so the rundown,
        // which runs when its session stops, covers everything jitted before.
        var liveStarted = started.Elapsed;
        if (!TryReadRundown(timeout - started.Elapsed, out reason))
        {
            return false;
        }

        if (!liveReady.Wait(Remaining(timeout, started)) || liveStartError is not null)
        {
            reason = liveStartError is null ? "the live session did not start in time" : $"live session: {liveStartError.Message}";
            return false;
        }

        // The live parser has read the stream header, so events flow; no barrier round trip (100+ ms) needed here.
        StartPhases = $"live session {Ms(liveStarted)}, {_phases}";
        reason = "";
        return true;
    }

    private static string Ms(TimeSpan span) => $"{span.TotalMilliseconds:F0} ms";

    private static TimeSpan Remaining(TimeSpan timeout, Stopwatch started)
    {
        var remaining = timeout - started.Elapsed;
        return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
    }

    private bool TryReadRundown(TimeSpan timeout, out string reason)
    {
        var started = Stopwatch.StartNew();

        // The rundown session needs a provider of its own; the marker source is quiet and harmless.
        using var session = _client.StartEventPipeSession(new EventPipeSessionConfiguration(
            [new EventPipeProvider(SymbolsEventSource.ProviderName, EventLevel.Critical, 0)],
            LiveBufferMB,
            rundownKeyword: RundownKeywords,
            requestStackwalk: false));

        // The runtime writes the rundown into the socket while stopping, holding EventPipe's lock: drain it raw into
        // memory (nothing in that loop needs the runtime), and parse only once the stream has ended.
        using var raw = SocketFdStream.Wrap(session.EventStream);
        var captured = new MemoryStream(4 << 20); // a typical rundown fits: no growth while the runtime waits
        var firstBytes = new ManualResetEventSlim();
        Exception? drainError = null;
        var drain = new Thread(() =>
        {
            try
            {
                var buffer = new byte[1 << 20];
                int read;
                while ((read = raw.Read(buffer, 0, buffer.Length)) > 0)
                {
                    captured.Write(buffer, 0, read);
                    firstBytes.Set();
                }
            }
#pragma warning disable CA1031 // Reported through the reason.
            catch (Exception e)
#pragma warning restore CA1031
            {
                drainError = e;
            }
            finally
            {
                firstBytes.Set();
            }
        })
        {
            IsBackground = true,
            Name = "IoTrace eBPF symbols rundown",
        };
        drain.UnsafeStart();

        // The stream header arrives as the session starts: once it is in, the drain loop is running (and compiled).
        var sessionStarted = started.Elapsed;
        firstBytes.Wait(Remaining(timeout, started));
        var headerRead = started.Elapsed;
        var stop = Task.Run(session.Stop);
        if (!stop.Wait(Remaining(timeout, started)) || !drain.Join(Remaining(timeout, started)))
        {
            reason = "the rundown did not finish in time";
            return false;
        }

        if (drainError is not null)
        {
            reason = $"rundown: {drainError.GetType().Name}: {drainError.Message}";
            return false;
        }

        var drained = started.Elapsed;
        var ranges = 0;
        RundownBytes = captured.Length;
        captured.Position = 0;
        using (var source = new EventPipeEventSource(captured))
        {
            var rundown = new ClrRundownTraceEventParser(source);

            // At rundown the runtime writes each code version's IL map before its MethodDCEnd.
            var pairs = new CodeVersionPairs(mapFirst: true);
            rundown.LoaderModuleDCStop += OnModule;
            rundown.MethodILToNativeMapDCStop += pairs.OnILMap;
            rundown.MethodDCStopVerbose += e =>
            {
                if (!_unloadedDuringRundown.ContainsKey(e.MethodID) && OnMethodLoad(e, pairs))
                {
                    ranges++;
                }
            };
            source.Process();
        }

        _rundownDone = true;
        _unloadedDuringRundown.Clear();
        RundownCodeRanges = ranges;
        _phases = $"rundown session {Ms(sessionStarted)}, header {Ms(headerRead - sessionStarted)}, stop+drain {Ms(drained - headerRead)}, parse {Ms(started.Elapsed - drained)}";
        reason = "";
        return true;
    }

    private void RunLive(ManualResetEventSlim ready, Action<Exception> startFailed)
    {
        try
        {
            try
            {
                _liveStream = SocketFdStream.Wrap(_liveSession!.EventStream);
                _liveSource = new EventPipeEventSource(_liveStream);
                var clr = _liveSource.Clr;

                // Live, the runtime writes MethodLoadVerbose first, then the IL map of that code version.
                var pairs = new CodeVersionPairs(mapFirst: false);
                clr.LoaderModuleLoad += OnModule;
                // Module unloads are not applied: the runtime reports every module unloaded while the process shuts
                // down, when the flushes of the last traces may still be resolving their stacks. A module id reused
                // after a real (collectible) unload gets its new path from its own load event, which comes first.
                clr.MethodLoadVerbose += e => OnMethodLoad(e, pairs);
                clr.MethodILToNativeMap += pairs.OnILMap;
                clr.MethodUnloadVerbose += OnMethodUnload;
                _liveSource.Dynamic.All += OnDynamic;
            }
#pragma warning disable CA1031 // Reported to TryStart.
            catch (Exception e)
#pragma warning restore CA1031
            {
                startFailed(e);
                return;
            }
            finally
            {
                ready.Set();
            }

            _liveSource.Process();
            if (!_disposed)
            {
                _failureReason = "the live session ended";
            }
        }
#pragma warning disable CA1031 // A background thread must not take the process down.
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (!_disposed)
            {
                _failureReason = $"live session: {e.GetType().Name}: {e.Message}";
            }
        }
        finally
        {
            lock (_markerGate)
            {
                _liveEnded = true;
                Monitor.PulseAll(_markerGate);
            }
        }
    }

    private void OnModule(ModuleLoadUnloadTraceData e)
    {
        if (!string.IsNullOrEmpty(e.ModuleILPath))
        {
            _modulePaths[e.ModuleID] = e.ModuleILPath;
        }
    }

    private bool OnMethodLoad(MethodLoadUnloadVerboseTraceData e, CodeVersionPairs pairs)
    {
        if (e.MethodStartAddress == 0 || e.MethodSize <= 0)
        {
            return false;
        }

        if (!_rundownDone)
        {
            _unloadedDuringRundown.TryRemove(e.MethodID, out _);
        }

        var method = _methods.GetOrAdd(e.MethodID, static (id, ev) => new JittedMethod(
            id, ev.ModuleID, ev.MethodToken, ev.IsDynamic, ev.MethodNamespace ?? "", ev.MethodName ?? ""), e);
        var code = new JittedCode(e.MethodStartAddress, (uint)e.MethodSize, method, e.OptimizationTier.ToString(), e.IsJitted, _table.NextSequence());
        pairs.OnCode(code, e.ThreadID);
        _table.Add(code);
        return true;
    }

    private void OnMethodUnload(MethodLoadUnloadVerboseTraceData e)
    {
        if (!_rundownDone)
        {
            _unloadedDuringRundown[e.MethodID] = 0;
        }

        _table.RemoveMethod(e.MethodID);
        _methods.TryRemove(e.MethodID, out _);
        if (e.MethodStartAddress != 0 && e.MethodSize > 0)
        {
            if (_unloaded.Count < MaxUnloadedRanges)
            {
                _unloaded.Enqueue((e.MethodStartAddress, e.MethodStartAddress + (ulong)e.MethodSize));
            }
            else
            {
                // Nobody took them (no trace kept context): whoever looks next forgets everything instead.
                _unloadedOverflow = true;
            }
        }
    }

    private void OnDynamic(TraceEvent e)
    {
        if ((int)e.ID != SymbolsEventSource.MarkerEventId || e.ProviderName != SymbolsEventSource.ProviderName)
        {
            return;
        }

        if (e.PayloadValue(0) is long sequence)
        {
            lock (_markerGate)
            {
                if (sequence > _markerSeen)
                {
                    _markerSeen = sequence;
                    Monitor.PulseAll(_markerGate);
                }
            }
        }
    }

    private (MethodBase?, MethodLines?, bool) ResolveMethod(JittedMethod jitted)
    {
        if (jitted.IsDynamic || (jitted.Token >> 24) != 0x06)
        {
            return (null, null, true);
        }

        if (!_modulePaths.TryGetValue(jitted.ModuleId, out var path))
        {
            return (null, null, false);
        }

        // Code from a module runs only once the module is loaded, so a module that matches no loaded assembly never
        // will (in-memory and single-file assemblies have no path to match): names only, for good.
        var modules = FindModules(path);
        if (modules.Length == 0)
        {
            return (null, null, true);
        }

        MethodBase? method = null;
        foreach (var module in modules)
        {
            try
            {
                var candidate = module.ResolveMethod(jitted.Token);

                // The same file loaded into two contexts: the MethodDesc identifies the right one.
                if (candidate is not null && (method is null || candidate.MethodHandle.Value == (nint)jitted.MethodId))
                {
                    method = candidate;
                }
            }
            catch (Exception e) when (e is ArgumentException or BadImageFormatException or InvalidOperationException)
            {
            }
        }

        return (method, _pdbLines.GetMethodLines(path, jitted.Token), true);
    }

    private Module[] FindModules(string path)
    {
        if (_modulesByPath.TryGetValue(path, out var modules))
        {
            return modules;
        }

        // A scan of the loaded assemblies, cached per path (the same file loaded later into a second load context
        // is not seen; its methods then resolve against the first).
        var found = new List<Module>();
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (assembly.IsDynamic)
            {
                continue;
            }

            foreach (var module in assembly.GetModules())
            {
                if (string.Equals(module.FullyQualifiedName, path, StringComparison.Ordinal))
                {
                    found.Add(module);
                }
            }
        }

        modules = [.. found];
        if (modules.Length > 0)
        {
            _modulesByPath[path] = modules;
        }

        return modules;
    }

    private static void CloseQuietly(EventPipeSession? session)
    {
        try
        {
            session?.EventStream.Dispose();
        }
#pragma warning disable CA1031 // Best effort while disposing.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private static void StopQuietly(EventPipeSession? session)
    {
        if (session is null)
        {
            return;
        }

        try
        {
            // The runtime has usually ended the session itself once its writes failed; then Stop reports an error.
            Task.Run(session.Stop).Wait(TimeSpan.FromSeconds(2));
        }
#pragma warning disable CA1031 // Best effort while disposing.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}

/// <summary>One code version of a method as the map holds it.</summary>
internal readonly record struct CodeVersion(ulong Start, ulong Size, string Tier, bool IsJitted, bool HasILMap);

/// <summary>
/// Pairs each code version with its IL map. The map event names only the method, not the code version, but the
/// runtime writes the two back to back on one thread: load then map while live, map then DCEnd at rundown.
/// </summary>
internal sealed class CodeVersionPairs(bool mapFirst)
{
    private readonly Dictionary<(long MethodId, int ThreadId), JittedCode> _codes = [];
    private readonly Dictionary<(long MethodId, int ThreadId), ILToNativeMap> _maps = [];

    public void OnCode(JittedCode code, int threadId)
    {
        var key = (code.Method.MethodId, threadId);
        if (mapFirst)
        {
            if (_maps.Remove(key, out var map))
            {
                code.Map = map;
            }
        }
        else
        {
            _codes[key] = code;
        }
    }

    public void OnILMap(MethodILToNativeMapTraceData e)
    {
        if (e.MethodExtent != 0)
        {
            return;
        }

        var key = (e.MethodID, e.ThreadID);
        JittedCode? code = null;
        if (!mapFirst && !_codes.Remove(key, out code))
        {
            return;
        }

        var count = e.CountOfMapEntries;
        var il = new int[count];
        var native = new int[count];
        for (var i = 0; i < count; i++)
        {
            il[i] = e.ILOffset(i);
            native[i] = e.NativeOffset(i);
        }

        var map = ILToNativeMap.Create(il, native);
        if (code is not null)
        {
            code.Map = map;
        }
        else
        {
            _maps[key] = map;
        }
    }
}
