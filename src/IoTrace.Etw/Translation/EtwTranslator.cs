using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using IoTrace.Probes;
using IoTrace.Tracing;

namespace IoTrace.Etw.Translation;

/// <summary>
/// Turns the process's IO events into calls of its traces, on the one thread that reads the events, with no Windows
/// API. A start names the probe, the issuing thread (whose trace at that time the <see cref="ThreadTimeline"/> knows)
/// and the kernel object; the end with the same request key gives the status, the bytes and the duration; the stack
/// event at the start's time and thread gives the line. Events arrive late and out of order between CPUs, so a call is
/// charged once every event made before a flush marker has been read (<see cref="FlushMarkers"/>), and a trace is
/// complete once the marker after its stop is.
/// </summary>
internal sealed class EtwTranslator(
    ThreadTimeline timeline,
    FlushMarkers markers,
    ConcurrentDictionary<long, EtwTrace> traces,
    IEtwStackResolver stacks,
    Action<EtwTrace> complete)
{
    // The kernel's half of the address space: a stack's kernel frames, which no line is in.
    private const ulong KernelAddresses = 0x8000_0000_0000_0000;

    // More calls in flight than a process makes at once: ends were lost.
    private const int InFlightLimit = 100_000;

    private readonly Dictionary<RequestKey, PendingCall> _inFlight = [];
    private readonly Dictionary<(int ThreadId, long Timestamp), PendingCall> _awaitingStack = [];

    // Ends read before their start (another CPU's buffer came first), and every other process's: the session is the
    // machine's. Each is kept until its start must have been read.
    private readonly Dictionary<RequestKey, OperationEnded> _earlyEnds = [];
    private readonly Dictionary<ulong[], ulong[]> _interned = new(StackComparer.Instance);

    // Shared connections by socket life, found from any thread; those whose calls outside traces are counted, by fd.
    private readonly ConcurrentDictionary<(int Fd, long Generation), SharedConnection> _sharedSockets = new();
    private readonly ConcurrentDictionary<int, FollowedSocket> _followed = new();

    // The last watermark, for threads that wait for the events made before a time (WaitDelivered).
    private readonly object _deliveredGate = new();
    private long _delivered = long.MinValue;

    /// <summary>The process's files and sockets, as fds.</summary>
    public KernelObjects Objects { get; } = new();

    /// <summary>
    /// The process's sockets an event named connected to one of <paramref name="peers"/> (a connect seen since the session
    /// started), each watched as a <see cref="SharedConnection"/>, the same one for the same socket's life. From any thread.
    /// </summary>
    public IReadOnlyList<SharedConnection> SharedSocketsTo(IReadOnlySet<string> peers)
    {
        var found = new List<SharedConnection>();
        foreach (var (fd, generation, target) in Objects.Named())
        {
            if (peers.Contains(target))
            {
                found.Add(_sharedSockets.GetOrAdd((fd, generation), static (socket, peer) => new SharedConnection(socket.Fd, socket.Generation, peer), target));
            }
        }

        return found;
    }

    /// <summary>
    /// Waits until every event made up to <paramref name="timestamp"/> has been read (a flush's marker past it), at most
    /// <paramref name="timeout"/>; false if it was not by then. From any thread but the event thread.
    /// </summary>
    public bool WaitDelivered(long timestamp, TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_deliveredGate)
        {
            while (_delivered < timestamp)
            {
                var left = deadline - Environment.TickCount64;
                if (left <= 0 || !Monitor.Wait(_deliveredGate, TimeSpan.FromMilliseconds(left)))
                {
                    return _delivered >= timestamp;
                }
            }

            return true;
        }
    }

    /// <summary>
    /// Counts <paramref name="connection"/>'s reads and writes outside traces that start from <paramref name="timestamp"/>
    /// on (<paramref name="follow"/>), or up to it only (not): events come late, so what is counted is decided by their
    /// time, not by when they are read. From any thread.
    /// </summary>
    public void Follow(SharedConnection connection, bool follow, long timestamp) =>
        _followed.AddOrUpdate(
            connection.Fd,
            static (_, state) => new FollowedSocket(state.connection, state.timestamp, state.follow ? long.MaxValue : state.timestamp),
            static (_, known, state) => ReferenceEquals(known.Connection, state.connection)
                ? known with { Until = state.follow ? long.MaxValue : state.timestamp }
                : new FollowedSocket(state.connection, state.timestamp, state.follow ? long.MaxValue : state.timestamp),
            (connection, follow, timestamp));

    /// <summary>An operation of this process started.</summary>
    public void OnStarted(in OperationStarted started)
    {
        if (started.ThreadId == markers.ThreadId)
        {
            if (markers.TryPass(started.Timestamp, out var watermark))
            {
                OnDelivered(watermark);
            }

            return;
        }

        var session = timeline.TraceAt(started.ThreadId, started.Timestamp);
        var trace = session is not null && traces.TryGetValue(session.Id, out var recorded) ? recorded : null;
        var traits = ProbeCatalog.Traits(started.Probe);
        var (fd, generation) = (-1, 0L);
        SharedConnection? shared = null;
        if ((traits & ProbeTraits.OpensFd) == 0)
        {
            (fd, generation) = Objects.Of(started.Object);
            if ((traits & ProbeTraits.ClosesFd) != 0)
            {
                Objects.Closed(started.Object);
                if (_sharedSockets.TryRemove((fd, generation), out var closed))
                {
                    closed.Close();
                }
            }

            shared = trace is null && (traits & ProbeTraits.MovesBytes) != 0 ? SharedAt(fd, generation, started.Timestamp) : null;
            if (trace is null && shared is null && (traits & ProbeTraits.NamesFd) == 0)
            {
                return;
            }
        }

        var call = new PendingCall(started, trace) { Fd = fd, Generation = generation, Shared = shared };

        // Opens and connects outside traces are followed too: a trace may use what they open and name later.
        if (_earlyEnds.Remove(started.Request, out var ended) && ended.Timestamp >= started.Timestamp)
        {
            End(call, ended);
        }
        else
        {
            _inFlight[started.Request] = call;
        }

        if (trace is not null)
        {
            trace.Pending.Add(call);
            _awaitingStack[(started.ThreadId, started.Timestamp)] = call;
        }
    }

    /// <summary>An operation of any process ended.</summary>
    public void OnEnded(in OperationEnded ended)
    {
        // An end older than the start in flight on its key ended that key's previous request.
        if (_inFlight.TryGetValue(ended.Request, out var call) && ended.Timestamp >= call.Start.Timestamp)
        {
            _inFlight.Remove(ended.Request);
            End(call, ended);
        }
        else
        {
            _earlyEnds[ended.Request] = ended;
        }
    }

    /// <summary>A stack event: frames of the event made at its timestamp on its thread.</summary>
    public void OnStack(in StackWalked walked)
    {
        if (!_awaitingStack.TryGetValue((walked.ThreadId, walked.EventTimestamp), out var call))
        {
            return;
        }

        var user = Array.FindIndex(walked.Frames, static frame => frame < KernelAddresses);
        if (user < 0)
        {
            // The kernel's half: the user's comes in a stack event of its own when the thread leaves the kernel.
            return;
        }

        _awaitingStack.Remove((walked.ThreadId, walked.EventTimestamp));
        call.Stack = Intern(user == 0 ? walked.Frames : walked.Frames[user..]);
    }

    /// <summary>
    /// Every event made before <paramref name="watermark"/> has been read: charges the calls started before it that
    /// ended, and completes the traces stopped before it (a call of theirs still in flight is charged without its end).
    /// </summary>
    public void OnDelivered(long watermark)
    {
        bool? waited = null;
        foreach (var trace in traces.Values)
        {
            var stopped = trace.StopTimestamp is var stop && stop != 0 && stop <= watermark;
            var pending = trace.Pending;
            var kept = 0;
            for (var i = 0; i < pending.Count; i++)
            {
                var call = pending[i];
                if (stopped && call.Start.Timestamp > stop)
                {
                    // Made on the thread between the stop and the restore of its previous trace: not the trace's.
                    continue;
                }

                if (call.Start.Timestamp <= watermark && (call.End is not null || stopped))
                {
                    Charge(trace.Session, call, ref waited);
                }
                else
                {
                    pending[kept++] = call;
                }
            }

            pending.RemoveRange(kept, pending.Count - kept);
            if (stopped)
            {
                complete(trace);
            }
        }

        Forget(watermark);
        lock (_deliveredGate)
        {
            _delivered = Math.Max(_delivered, watermark);
            Monitor.PulseAll(_deliveredGate);
        }
    }

    private void End(PendingCall call, in OperationEnded ended)
    {
        call.End = ended;
        if (call.Shared is { } shared)
        {
            shared.Count(call.Start.Probe, 1, ended.Status >= 0 ? ended.Bytes : 0, ended.Timestamp - call.Start.Timestamp);
            return;
        }

        if (ended.Status < 0)
        {
            return;
        }

        var traits = ProbeCatalog.Traits(call.Start.Probe);
        if ((traits & ProbeTraits.OpensFd) != 0)
        {
            (call.Fd, call.Generation) = Objects.Opened(call.Start.Object, call.Start.Target);
        }
        else if ((traits & ProbeTraits.NamesFd) != 0 && call.Start.Target is { } peer)
        {
            Objects.Name(call.Fd, call.Generation, peer);
        }
    }

    private void Charge(TraceSession session, PendingCall call, ref bool? waited)
    {
        var probe = call.Start.Probe;
        var succeeded = call.End is { Status: >= 0 };
        var bytes = succeeded && ProbeCatalog.Has(probe, ProbeTraits.MovesBytes) ? call.End!.Value.Bytes : 0;
        var ticks = call.End is { } ended ? ended.Timestamp - call.Start.Timestamp : 0;
        var site = call.Stack is { } stack ? stacks.Resolve(session, stack, ref waited) : null;
        if (!session.KeepsContext)
        {
            session.Charge(IoCall.Counted(probe, 1, bytes, ticks, 0) with { Site = site });
            return;
        }

        var traits = ProbeCatalog.Traits(probe);
        if ((traits & ProbeTraits.OpensFd) != 0)
        {
            if (!succeeded)
            {
                // No life began: the row names what it tried, as a failed open's on Linux.
                session.Charge(new IoCall(probe, -1, 0, call.Start.Target, site, 1, 0, ticks, 0));
                return;
            }

            session.NameFd(call.Fd, call.Generation, call.Start.Target);
            session.Charge(new IoCall(probe, call.Fd, call.Generation, null, site, 1, bytes, ticks, 0));
            return;
        }

        var target = (traits & (ProbeTraits.NamesFd | ProbeTraits.TakesPath)) != 0 ? call.Start.Target : null;
        session.Charge(new IoCall(probe, call.Fd, call.Generation, target, site, 1, bytes, ticks, 0));
    }

    /// <summary>The shared connection followed on the socket's life at <paramref name="timestamp"/>, if any.</summary>
    private SharedConnection? SharedAt(int fd, long generation, long timestamp) =>
        !_followed.IsEmpty && _followed.TryGetValue(fd, out var followed) && followed.Connection.Generation == generation
        && timestamp >= followed.From && timestamp < followed.Until
            ? followed.Connection
            : null;

    /// <summary>What no event still to come can need: the timeline before the watermark, stacks and ends that will not pair.</summary>
    private void Forget(long watermark)
    {
        timeline.ForgetBefore(watermark);
        foreach (var (fd, followed) in _followed)
        {
            // No longer followed, and every call it counted started before the watermark.
            if (followed.Until <= watermark)
            {
                _followed.TryRemove(new KeyValuePair<int, FollowedSocket>(fd, followed));
            }
        }

        foreach (var key in _awaitingStack.Keys.Where(k => k.Timestamp <= watermark).ToList())
        {
            _awaitingStack.Remove(key);
        }

        foreach (var (key, _) in _earlyEnds.Where(e => e.Value.Timestamp <= watermark).ToList())
        {
            _earlyEnds.Remove(key);
        }

        // Calls of completed traces whose end never came; opens outside traces too, should their ends be lost.
        var lost = _inFlight.Count > InFlightLimit;
        foreach (var (key, _) in _inFlight.Where(c => c.Value.Start.Timestamp <= watermark && (c.Value.Trace is { } trace ? !traces.ContainsKey(trace.Session.Id) : lost)).ToList())
        {
            _inFlight.Remove(key);
        }

        if (_interned.Count > 50_000)
        {
            _interned.Clear();
        }
    }

    private ulong[] Intern(ulong[] stack)
    {
        if (_interned.TryGetValue(stack, out var known))
        {
            return known;
        }

        _interned[stack] = stack;
        return stack;
    }

    private readonly record struct FollowedSocket(SharedConnection Connection, long From, long Until);

    private sealed class StackComparer : IEqualityComparer<ulong[]>
    {
        public static readonly StackComparer Instance = new();

        public bool Equals(ulong[]? x, ulong[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(ulong[] obj)
        {
            var hash = new HashCode();
            hash.AddBytes(MemoryMarshal.AsBytes(obj.AsSpan()));
            return hash.ToHashCode();
        }
    }
}
