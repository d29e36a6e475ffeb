using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace IoTrace.Symbols.Managed;

/// <summary>
/// Maps native instruction addresses in this process's JIT'd code to the managed method, IL offset and source line,
/// for the raw user stacks a kernel-side backend hands the process.
/// </summary>
/// <remarks>
/// Fed by an EventPipe session on this very process (<see cref="LiveCodeEvents"/>), plus a rundown of the code jitted
/// before it started (<see cref="CodeRundown"/>), read once the live session is enabled, so no method falls in between.
/// Every code version of a method (tier0, OSR, tier1) is kept with its own IL map until the runtime unloads the
/// method. Never throws into callers: failures show as false returns and <see cref="FailureReason"/>.
/// </remarks>
internal sealed class ManagedCodeMap : IDisposable
{
    /// <summary>The buffer of each of the map's EventPipe sessions.</summary>
    internal const int BufferMB = 64;

    private const int MaxUnloadedRanges = 10_000;

    private readonly CodeRangeTable _table = new();
    private readonly ConcurrentDictionary<long, JittedMethod> _methods = new();
    private readonly ConcurrentDictionary<long, string> _modulePaths = new();
    private int _modulesLoaded;
    private readonly JittedMethodResolver _methodResolver;
    private readonly Func<JittedMethod, (MethodBase?, MethodLines?, bool)> _resolver;
    private readonly DiagnosticsClient _client = new(Environment.ProcessId);

    // Methods unloaded while the rundown is still being read, so its late DCEnd events do not bring them back.
    private readonly ConcurrentDictionary<long, byte> _unloadedDuringRundown = new();
    private readonly ConcurrentQueue<(ulong Start, ulong End)> _unloaded = new();
    private volatile bool _unloadedOverflow;
    private volatile bool _rundownDone;
    private LiveCodeEvents? _live;
    private volatile bool _disposed;

    private ManagedCodeMap()
    {
        _methodResolver = new JittedMethodResolver(_modulePaths);
        _resolver = _methodResolver.Resolve;
    }

    /// <summary>Why the map stopped following the runtime (the session failed or ended); null while it works.</summary>
    public string? FailureReason => _live?.FailureReason;

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

    /// <inheritdoc cref="LiveCodeEvents.WaitUntilCurrent"/>
    public bool WaitUntilCurrent(TimeSpan timeout) => !_disposed && _live is { } live && live.WaitUntilCurrent(timeout);

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
        _live?.Dispose();
        _methodResolver.Dispose();
    }

    internal static string Ms(TimeSpan span) => $"{span.TotalMilliseconds:F0} ms";

    internal static TimeSpan Remaining(TimeSpan timeout, Stopwatch started)
    {
        var remaining = timeout - started.Elapsed;
        return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
    }

    /// <summary>A code version the rundown reports, unless the live session saw its method unloaded meanwhile.</summary>
    internal bool OnRundownMethod(MethodLoadUnloadVerboseTraceData e, CodeVersionPairs pairs) =>
        !_unloadedDuringRundown.ContainsKey(e.MethodID) && OnMethodLoad(e, pairs);

    private bool TryStartCore(TimeSpan timeout, Stopwatch started, out string reason)
    {
        // The live session is enabled in the runtime before the rundown is asked for (events are buffered from then
        // on), so the rundown, which runs when its session stops, covers everything jitted before.
        _live = new LiveCodeEvents(_client, this);
        var liveStarted = started.Elapsed;
        if (!CodeRundown.TryRead(_client, this, timeout - started.Elapsed, out var rundown, out reason))
        {
            return false;
        }

        _rundownDone = true;
        _unloadedDuringRundown.Clear();
        RundownCodeRanges = rundown.CodeRanges;
        RundownBytes = rundown.Bytes;
        if (!_live.WaitUntilStarted(Remaining(timeout, started), out reason))
        {
            return false;
        }

        // The live parser has read the stream header, so events flow; no barrier round trip (100+ ms) needed here.
        StartPhases = $"live session {Ms(liveStarted)}, {rundown.Phases}";
        return true;
    }

    /// <summary>
    /// How many module loads the map has seen: a reader of the process's mapped images reads them again when this
    /// changed, since a ReadyToRun assembly's code is mapped as it loads.
    /// </summary>
    public int ModulesLoaded => Volatile.Read(ref _modulesLoaded);

    /// <summary>A module loaded (live or at rundown): its path, for the methods it holds.</summary>
    internal void OnModule(ModuleLoadUnloadTraceData e)
    {
        if (!string.IsNullOrEmpty(e.ModuleILPath))
        {
            _modulePaths[e.ModuleID] = e.ModuleILPath;
        }

        Interlocked.Increment(ref _modulesLoaded);
    }

    /// <summary>A code version jitted (live), or alive at the start (rundown); false when it has no code.</summary>
    internal bool OnMethodLoad(MethodLoadUnloadVerboseTraceData e, CodeVersionPairs pairs)
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

    /// <summary>A method the runtime unloaded: its code versions leave the map, and their ranges are queued for <see cref="TryTakeUnloaded"/>.</summary>
    internal void OnMethodUnload(MethodLoadUnloadVerboseTraceData e)
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
}
