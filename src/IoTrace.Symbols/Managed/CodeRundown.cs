using System.Diagnostics;
using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace IoTrace.Symbols.Managed;

/// <summary>
/// Reads the rundown of the code jitted before the map started: a short EventPipe session on this process, asked for
/// rundown and stopped at once. The runtime writes the rundown into the session's socket while stopping, holding
/// EventPipe's lock, so the stream is drained raw into memory (nothing in that loop needs the runtime) and parsed only
/// once it has ended.
/// </summary>
internal static class CodeRundown
{
    // Rundown provider: Loader (0x8), Jit (0x10), End (0x100, the DCEnd events), JittedMethodILToNativeMap (0x20000).
    private const long RundownKeywords = 0x8 | 0x10 | 0x100 | 0x20000;

    /// <summary>Reads the rundown into <paramref name="map"/>; false, with the reason, on failure or timeout.</summary>
    public static bool TryRead(DiagnosticsClient client, ManagedCodeMap map, TimeSpan timeout, out RundownStats stats, out string reason)
    {
        stats = default;
        var started = Stopwatch.StartNew();

        // The rundown session needs a provider of its own; the marker source is quiet and harmless.
        using var session = client.StartEventPipeSession(new EventPipeSessionConfiguration(
            [new EventPipeProvider(SymbolsEventSource.ProviderName, EventLevel.Critical, 0)],
            ManagedCodeMap.BufferMB,
            rundownKeyword: RundownKeywords,
            requestStackwalk: false));

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
            Name = "IoTrace symbols rundown",
        };
        drain.UnsafeStart();

        // The stream header arrives as the session starts: once it is in, the drain loop is running (and compiled).
        var sessionStarted = started.Elapsed;
        firstBytes.Wait(ManagedCodeMap.Remaining(timeout, started));
        var headerRead = started.Elapsed;
        var stop = Task.Run(session.Stop);
        if (!stop.Wait(ManagedCodeMap.Remaining(timeout, started)) || !drain.Join(ManagedCodeMap.Remaining(timeout, started)))
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
        var bytes = captured.Length;
        captured.Position = 0;
        using (var source = new EventPipeEventSource(captured))
        {
            var rundown = new ClrRundownTraceEventParser(source);

            // At rundown the runtime writes each code version's IL map before its MethodDCEnd.
            var pairs = new CodeVersionPairs(mapFirst: true);
            rundown.LoaderModuleDCStop += map.OnModule;
            rundown.MethodILToNativeMapDCStop += pairs.OnILMap;
            rundown.MethodDCStopVerbose += e =>
            {
                if (map.OnRundownMethod(e, pairs))
                {
                    ranges++;
                }
            };
            source.Process();
        }

        stats = new RundownStats(ranges, bytes,
            $"rundown session {ManagedCodeMap.Ms(sessionStarted)}, header {ManagedCodeMap.Ms(headerRead - sessionStarted)}, stop+drain {ManagedCodeMap.Ms(drained - headerRead)}, parse {ManagedCodeMap.Ms(started.Elapsed - drained)}");
        reason = "";
        return true;
    }

    /// <summary>What a rundown brought, and where its time went.</summary>
    internal readonly record struct RundownStats(int CodeRanges, long Bytes, string Phases);
}
