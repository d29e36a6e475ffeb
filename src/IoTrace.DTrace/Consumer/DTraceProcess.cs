using System.Diagnostics;
using System.Runtime.Versioning;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// The dtrace process the backend runs on Linux, with <see cref="DTraceScript"/>: read line by line, and asked to flush
/// with a marker call (<see cref="DTraceScript.MarkerOption"/>) made on each CPU in turn.
/// </summary>
/// <remarks>
/// Why a marker on every CPU: dtrace prints each CPU's lines in the order they were written, but CPUs one after another.
/// A call that returned before the marker on one CPU may be printed after the marker of another; it cannot be printed
/// after the marker made later on its own CPU. Once the marker is read from every CPU, every call made before the first
/// of them has been read.
/// </remarks>
[SupportedOSPlatform("linux")]
internal sealed class DTraceProcess : DTraceOutput
{
    private readonly DTraceLineParser _parser = new();

    // Each connect's peer, printed apart from its call.
    private readonly Dictionary<(long Trace, int Fd, long Generation), string?> _peers = [];

    // Flushes read, in order, until the peers their connects name are read too.
    private readonly Queue<(long Sequence, List<DTraceCall> Calls, long ReadAt)> _pending = new();
    private readonly Dictionary<long, int> _markersSeen = [];
    private List<DTraceCall> _batch = [];

    private DTraceProcess(DTraceChild child)
        : base(child)
    {
    }

    /// <summary>How long a flush waits for a peer its connects name before it is delivered without it.</summary>
    private static readonly TimeSpan s_pendingTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Flush <c>n</c> was read, with what it printed: every call that returned before flush <c>n</c> was requested is
    /// in it or an earlier one (on the output thread).
    /// </summary>
    public event Action<long, IReadOnlyList<DTraceCall>>? Flushed;

    /// <summary>A call that returned before flush <c>n</c> was requested is printed by flush <c>n</c>.</summary>
    public override int FlushesLate => 0;

    /// <summary>Starts dtrace on <paramref name="script"/> and waits for its probes to be enabled.</summary>
    /// <param name="dtrace">The dtrace executable.</param>
    /// <param name="script">The D script, written to a temporary file for dtrace to read.</param>
    /// <param name="timeout">How long to wait for the script's ready line.</param>
    /// <param name="recording">A file to append dtrace's output to, line by line, as it is read; null for none.</param>
    public static DTraceProcess Start(string dtrace, string script, TimeSpan timeout, string? recording = null) =>
        Started(new DTraceProcess(DTraceChild.Start(dtrace, script, recording)), timeout);

    protected override void ReadOutput()
    {
        while (Child.ReadLine() is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            switch (line[0])
            {
                case 'C' or 'P' or 'S':
                    if (_parser.ParseCall(line) is { } call)
                    {
                        _batch.Add(call);
                    }

                    break;
                case 'N':
                    if (DTraceLineParser.TryParsePeer(line, out var key, out var peer))
                    {
                        _peers[key] = peer;
                        Deliver(force: false);
                    }

                    break;
                case 'F':
                    if (DTraceLineParser.TryParseMarker(line, out _, out var sequence) && MarkerReadOnEveryCpu(sequence))
                    {
                        _pending.Enqueue((sequence, _batch, Stopwatch.GetTimestamp()));
                        _batch = [];
                        Deliver(force: false);
                    }

                    break;
                case 'R':
                    Ready.TrySetResult(null);
                    break;
                case 'T':
                    Deliver(force: true);
                    OnHeartbeat();
                    break;
            }
        }

        Ended();
    }

    private bool MarkerReadOnEveryCpu(long sequence)
    {
        var seen = _markersSeen.GetValueOrDefault(sequence) + 1;
        if (seen < Child.Cpus.Length)
        {
            _markersSeen[sequence] = seen;
            return false;
        }

        _markersSeen.Remove(sequence);
        return true;
    }

    /// <summary>
    /// Delivers the flushes whose connects' peers are all read, in order (a peer's line is written with its call, so it
    /// is read by the end of the round); with <paramref name="force"/>, also those that waited too long (a connect
    /// without its peer gets no target).
    /// </summary>
    private void Deliver(bool force)
    {
        while (_pending.TryPeek(out var head))
        {
            var complete = head.Calls.TrueForAll(Resolvable);
            if (!complete && !(force && Stopwatch.GetElapsedTime(head.ReadAt) > s_pendingTimeout))
            {
                return;
            }

            _pending.Dequeue();
            foreach (var call in head.Calls)
            {
                if (IsNamedConnect(call) && _peers.Remove((call.Trace, call.Fd, call.Generation), out var peer))
                {
                    call.Target = peer;
                }
            }

            Flushed?.Invoke(head.Sequence, head.Calls);
        }
    }

    private bool Resolvable(DTraceCall call) => !IsNamedConnect(call) || _peers.ContainsKey((call.Trace, call.Fd, call.Generation));

    /// <summary>A connect of a trace with context (it has a stack) on an fd: the script printed its peer.</summary>
    private static bool IsNamedConnect(DTraceCall call) => call.Stack.Length > 0 && call.Fd >= 0 && call.Syscall.Name == "connect";

    /// <summary>The marker, on each of the process's CPUs in turn (its lines are printed from each).</summary>
    protected override void MakeFlush(long sequence)
    {
        foreach (var cpu in Child.Cpus)
        {
            _ = CpuAffinity.TrySet(0, [cpu]);
            _ = LibcInterop.Prctl(DTraceScript.MarkerOption, (nint)sequence, 0, 0, 0);
        }
    }
}
