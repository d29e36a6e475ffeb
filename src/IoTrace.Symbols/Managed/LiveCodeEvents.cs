using System.Diagnostics;
using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace IoTrace.Symbols.Managed;

/// <summary>
/// The EventPipe session on this very process that keeps a <see cref="ManagedCodeMap"/> current: the runtime's JIT,
/// IL-map and loader events, parsed on a background thread, and the markers that let a reader wait until every event
/// written before a point has been seen (<see cref="WaitUntilCurrent"/>).
/// </summary>
internal sealed class LiveCodeEvents : IDisposable
{
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";

    // Loader (0x8): module paths; Jit (0x10): MethodLoad/Unload; JittedMethodILToNativeMap (0x20000): IL maps.
    // No NGen (0x20): ReadyToRun code is not jitted, lives in the mapped image and has no IL map event.
    private const long RuntimeKeywords = 0x8 | 0x10 | 0x20000;

    // A little over the runtime's flush period (100 ms), so a repeated marker lands in a later flush.
    private const long MarkerRepeatMilliseconds = 120;

    // The markers are process-wide and increasing, so two maps in one process never confuse each other's.
    private static long s_lastMarker;

    private readonly ManagedCodeMap _map;
    private readonly EventPipeSession _session;
    private readonly ManualResetEventSlim _ready = new();
    private readonly object _markerGate = new(); // Monitor.Wait needs an object, not a Lock.
    private readonly Thread _thread;
    private EventPipeEventSource? _source;
    private Stream? _stream;
    private Exception? _startError;
    private long _markerSeen;
    private volatile bool _ended;
    private volatile bool _disposed;

    /// <summary>Enables the session in the runtime (events are buffered from here on) and starts reading it.</summary>
    public LiveCodeEvents(DiagnosticsClient client, ManagedCodeMap map)
    {
        _map = map;

        // Make sure the marker source exists, so the session enables it as it starts.
        _ = SymbolsEventSource.Log;
        _session = client.StartEventPipeSession(new EventPipeSessionConfiguration(
            [
                new EventPipeProvider(RuntimeProvider, EventLevel.Verbose, RuntimeKeywords),
                new EventPipeProvider(SymbolsEventSource.ProviderName, EventLevel.Verbose, -1),
            ],
            ManagedCodeMap.BufferMB,
            rundownKeyword: 0,
            requestStackwalk: false));
        _thread = new Thread(Run) { IsBackground = true, Name = "IoTrace symbols" };
        _thread.UnsafeStart();
    }

    /// <summary>Why the session stopped following the runtime; null while it works.</summary>
    public string? FailureReason { get; private set; }

    /// <summary>Waits until the parser has read the stream's header, so events flow; false, with the reason, otherwise.</summary>
    public bool WaitUntilStarted(TimeSpan timeout, out string reason)
    {
        if (!_ready.Wait(timeout) || _startError is not null)
        {
            reason = _startError is null ? "the live session did not start in time" : $"live session: {_startError.Message}";
            return false;
        }

        reason = "";
        return true;
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
        if (_disposed || _ended || !SymbolsEventSource.Log.IsEnabled())
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
                if (remaining <= 0 || _ended)
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

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;

        // Close our end first: the runtime's stop flushes into the socket while holding EventPipe's lock, and with
        // nobody reading (the parser is stopping) a full socket would block it; a closed one fails its writes at once.
        _source?.StopProcessing();
        _stream?.Dispose();
        CloseQuietly();
        StopQuietly();
        _thread.Join(TimeSpan.FromSeconds(2));
        _source?.Dispose();
        _session.Dispose();
        Ended();
    }

    private static long WriteMarker()
    {
        var sequence = Interlocked.Increment(ref s_lastMarker);
        SymbolsEventSource.Log.Marker(sequence);
        return sequence;
    }

    private void Run()
    {
        try
        {
            try
            {
                _stream = SocketFdStream.Wrap(_session.EventStream);
                _source = new EventPipeEventSource(_stream);
                var clr = _source.Clr;

                // Live, the runtime writes MethodLoadVerbose first, then the IL map of that code version.
                var pairs = new CodeVersionPairs(mapFirst: false);
                clr.LoaderModuleLoad += _map.OnModule;
                // Module unloads are not applied: the runtime reports every module unloaded while the process shuts
                // down, when the flushes of the last traces may still be resolving their stacks. A module id reused
                // after a real (collectible) unload gets its new path from its own load event, which comes first.
                clr.MethodLoadVerbose += e => _map.OnMethodLoad(e, pairs);
                clr.MethodILToNativeMap += pairs.OnILMap;
                clr.MethodUnloadVerbose += _map.OnMethodUnload;
                _source.Dynamic.All += OnDynamic;
            }
#pragma warning disable CA1031 // Reported to the map's start.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _startError = e;
                return;
            }
            finally
            {
                _ready.Set();
            }

            _source.Process();
            if (!_disposed)
            {
                FailureReason = "the live session ended";
            }
        }
#pragma warning disable CA1031 // A background thread must not take the process down.
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (!_disposed)
            {
                FailureReason = $"live session: {e.GetType().Name}: {e.Message}";
            }
        }
        finally
        {
            Ended();
        }
    }

    private void Ended()
    {
        lock (_markerGate)
        {
            _ended = true;
            Monitor.PulseAll(_markerGate);
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

    private void CloseQuietly()
    {
        try
        {
            _session.EventStream.Dispose();
        }
#pragma warning disable CA1031 // Best effort while disposing.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private void StopQuietly()
    {
        try
        {
            // The runtime has usually ended the session itself once its writes failed; then Stop reports an error.
            Task.Run(_session.Stop).Wait(TimeSpan.FromSeconds(2));
        }
#pragma warning disable CA1031 // Best effort while disposing.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
