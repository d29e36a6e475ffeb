using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using IoTrace.Attribution;
using IoTrace.Backends;
using IoTrace.Clients;
using IoTrace.Probes;

namespace IoTrace.Tracing;

/// <summary>
/// One running trace: what its calls mean and add up to. Backends deliver facts (<see cref="Charge"/>,
/// <see cref="NameFd"/>) concurrently from any thread; the trace keeps each fd's life by number and generation, and at
/// <see cref="Stop"/> gives a call without an application line the line that opened its fd, or the line of the
/// HttpClient request that named its peer, the same way whichever backend saw the call.
/// </summary>
internal sealed class TraceSession
{
    private static readonly bool[][] s_recordsByStrategy = [.. Enum.GetValues<Strategy>().Select(RecordsFor)];
    private static readonly TimeSpan s_peerAddressWait = TimeSpan.FromMilliseconds(500);
    private static readonly IReadOnlyDictionary<string, SourceLocation> s_noPeerLines = FrozenDictionary<string, SourceLocation>.Empty;
    private static RootPath? s_lastRoot;
    private static long s_lastId;

    private readonly bool[] _records;
    // Created on the first call: a request that makes none allocates neither, and under a kernel backend thousands of
    // stopped traces wait for their flush at once.
    private Counter?[]? _byProbe;

    // The first probe the recorder's traces can hold: _byProbe's index 0.
    private readonly int _firstProbe;
    private ConcurrentDictionary<AggregateKey, Counter>? _byKey;
    private readonly bool _keepsContext;
    private ConcurrentDictionary<(int Fd, long Generation), FdLife>? _lives;
    private List<int>? _ownedFds;
    private List<HttpRequestSite>? _httpRequests;
    private List<SourceLocation?>? _nameResolutions;
    private List<(SharedConnection Connection, SharedConnection.Reading[] Before)>? _sharedConnections;
    private readonly long _startTimestamp;
    private long _stopTimestamp;
    private readonly string _rootPath;
    private volatile bool _active = true;
    private volatile bool _incomplete;
    private readonly bool _countsBytes;
    private readonly IoTraceRedaction _redaction;
    private readonly bool _includeRuntimeIo;

    public TraceSession(Strategy strategy, IoTraceFeatures features, IIoTraceBackend recorder, CallSiteResolver resolver, string rootPath, IoTraceRedaction redaction = IoTraceRedaction.None, bool includeRuntimeIo = false)
    {
        _includeRuntimeIo = includeRuntimeIo;
        _redaction = redaction;
        Strategy = strategy;

        // Wait is time minus CPU: it needs both. A backend that cannot measure CPU reports neither as measured.
        // Bit tests, not HasFlag: HasFlag boxed here, once per request, in the allocation tests.
        if ((features & IoTraceFeatures.Wait) != 0)
        {
            features |= IoTraceFeatures.Time | IoTraceFeatures.Cpu;
        }

        if ((recorder.Capabilities & BackendCapabilities.MeasuresCpu) == 0)
        {
            features &= ~(IoTraceFeatures.Cpu | IoTraceFeatures.Wait);
        }

        Features = features | IoTraceFeatures.Calls;
        MeasuresTime = (features & IoTraceFeatures.Time) != 0;
        MeasuresCpu = (features & IoTraceFeatures.Cpu) != 0;
        _countsBytes = (features & IoTraceFeatures.Bytes) != 0;
        Recorder = recorder;
        Resolver = resolver;
        _rootPath = FullRoot(rootPath);
        _records = s_recordsByStrategy[(int)strategy];

        _keepsContext = strategy != Strategy.Summary;
        _firstProbe = ProbeRange(recorder).First;

        Id = Interlocked.Increment(ref s_lastId);
        _startTimestamp = Stopwatch.GetTimestamp();
    }

    /// <summary>Unique in the process, never 0: how a kernel backend names the trace.</summary>
    public long Id { get; }

    /// <summary>The backend that records this trace's calls (a kernel backend still attaching hands its traces to another).</summary>
    public IIoTraceBackend Recorder { get; }

    /// <summary>The recording backend's own data for this trace, if it keeps any.</summary>
    public object? BackendState { get; set; }

    public Strategy Strategy { get; }

    public IoTraceFeatures Features { get; }

    public bool MeasuresTime { get; }

    public bool MeasuresCpu { get; }

    /// <summary>The name the report carries: the recording backend's.</summary>
    public string Backend => Recorder.Name;

    public CallSiteResolver Resolver { get; }

    public bool IsActive => _active;

    /// <summary>Whether the strategy keeps file, line and fd context (all but Summary).</summary>
    public bool KeepsContext => _keepsContext;

    public bool Records(int probe) => _records[probe];

    /// <summary>Marks the report incomplete: the backend may have missed calls.</summary>
    public void MarkIncomplete() => _incomplete = true;

    /// <summary>
    /// Charges what a backend saw: counts it where the strategy records its probe, and follows the life of its fd either
    /// way (an open the strategy does not record still names the fd its reads are made on).
    /// </summary>
    public void Charge(in IoCall call)
    {
        var probe = call.Probe;
        if (call.Calls <= 0 || (!_includeRuntimeIo && ReferenceEquals(call.Site, SourceLocation.Runtime)) || ReferenceEquals(call.Site, SourceLocation.SharedConnection))
        {
            return;
        }

        if (!_keepsContext)
        {
            if (_records[probe])
            {
                var byProbe = Volatile.Read(ref _byProbe) ?? CreateByProbe();
                var slot = probe - _firstProbe;
                (Volatile.Read(ref byProbe[slot]) ?? CreateCounter(byProbe, slot)).Add(call.Calls, _countsBytes ? call.Bytes : 0, MeasuresTime ? call.WallTicks : 0, MeasuresCpu ? call.CpuNanoseconds : 0);
            }

            return;
        }

        var recorded = _records[probe];
        var life = call.Fd >= 0 ? Follow(call, recorded) : null;
        if (!recorded)
        {
            return;
        }

        var byKey = Volatile.Read(ref _byKey) ?? CreateByKey();
        var site = call.Site ?? SourceLocation.Unknown;
        var key = new AggregateKey(probe, site, call.Fd, life is null ? call.Target : null, life, site.IsApplication ? null : call.QueuedBy);
        if (!byKey.TryGetValue(key, out var counter))
        {
            counter = byKey.GetOrAdd(key, static k => new Counter(k.Target, k.Life));
        }

        counter.Add(call.Calls, _countsBytes ? call.Bytes : 0, MeasuresTime ? call.WallTicks : 0, MeasuresCpu ? call.CpuNanoseconds : 0);
    }

    /// <summary>
    /// A fact about an fd, delivered apart from its calls (a kernel backend's path of an opened file): its life takes
    /// the target, and the calls made on it, before or after, report it.
    /// </summary>
    public void NameFd(int fd, long generation, string? target)
    {
        if (fd >= 0 && target is not null)
        {
            Life(fd, generation).Target = target;
        }
    }

    /// <summary>The life of an fd as the trace knows it now (tests).</summary>
    internal FdLife? LifeOf(int fd, long generation) => _lives is { } lives && lives.TryGetValue((fd, generation), out var life) ? life : null;

    private FdLife Follow(in IoCall call, bool recorded)
    {
        var life = Life(call.Fd, call.Generation);
        var traits = ProbeCatalog.Traits(call.Probe);
        var opener = call.Site is { IsApplication: true } site ? site : null;
        if (opener is not null)
        {
            life.UsedBy(opener);
        }

        if ((traits & (ProbeTraits.OpensFd | ProbeTraits.NamesFd)) != 0)
        {
            if (call.Target is not null)
            {
                life.Target = call.Target;
            }

            // An open starts the life; a connect names one a socket call started, without a line where that ran on the thread pool.
            if (opener is not null && ((traits & ProbeTraits.OpensFd) != 0 || life.OpenedAt is null))
            {
                life.OpenedAt = opener;
            }
        }
        else if ((traits & ProbeTraits.ClosesFd) != 0)
        {
            // The close ends the life: the fd is no longer what it was, neither now nor when a late backend delivers.
            life.Ended = true;
        }
        else if (recorded && life.Target is null && !life.Ended && call.FdMayBeOpen)
        {
            // Opened before the trace (a pooled connection, a log file): what the fd is now, most likely what it was then.
            life.Target = Recorder.DescribeFd(call.Fd, call.Generation);
        }

        return life;
    }

    private FdLife Life(int fd, long generation)
    {
        var lives = _lives ?? Interlocked.CompareExchange(ref _lives, new ConcurrentDictionary<(int, long), FdLife>(), null) ?? _lives!;
        return lives.TryGetValue((fd, generation), out var life) ? life : lives.GetOrAdd((fd, generation), static _ => new FdLife());
    }

    /// <summary>Notes an fd this trace waits on in <see cref="FdOwners"/>, to release it when the trace stops.</summary>
    public void RememberOwnedFd(int fd)
    {
        var owned = _ownedFds ?? Interlocked.CompareExchange(ref _ownedFds, [], null) ?? _ownedFds!;
        lock (owned)
        {
            owned.Add(fd);
        }
    }

    /// <summary>
    /// Notes an HttpClient request this flow made: its IO runs on the thread pool with no application frame, so when
    /// the trace is whole the request's peer is how its sockets' calls find the line (<see cref="HttpClientPeers"/>).
    /// </summary>
    public void RecordHttpRequest(string host, int port, SourceLocation? site)
    {
        var requests = _httpRequests ?? Interlocked.CompareExchange(ref _httpRequests, [], null) ?? _httpRequests!;
        lock (requests)
        {
            requests.Add(new HttpRequestSite(host, port, site));
        }
    }

    /// <summary>
    /// Notes an asynchronous name resolution this flow started, with its line (null without one): its calls run on the
    /// thread pool with no application frame (<see cref="NameResolutionCallSites"/>).
    /// </summary>
    public void RecordNameResolution(SourceLocation? site)
    {
        var resolutions = _nameResolutions ?? Interlocked.CompareExchange(ref _nameResolutions, [], null) ?? _nameResolutions!;
        lock (resolutions)
        {
            resolutions.Add(site);
        }
    }

    /// <summary>
    /// Notes that the flow uses <paramref name="connection"/> (it sent a command through a multiplexed client): the report
    /// shows the connection's calls from now until the trace stops, apart from the trace's own.
    /// </summary>
    public void UseSharedConnection(SharedConnection connection)
    {
        var used = _sharedConnections ?? Interlocked.CompareExchange(ref _sharedConnections, [], null) ?? _sharedConnections!;
        lock (used)
        {
            if (_active && !used.Exists(u => ReferenceEquals(u.Connection, connection)))
            {
                used.Add((connection, connection.Read()));
                if (connection.AddUser())
                {
                    Recorder.FollowSharedConnection(connection, follow: true);
                }
            }
        }
    }

    /// <summary>
    /// What the shared connections the trace used did while it ran, one row per connection and probe (no CPU time: see
    /// <see cref="SharedConnection"/>): read once every call before the stop is charged, a kernel backend's included.
    /// </summary>
    private List<IoAggregate>? SharedAggregates(List<(int Fd, int Probe, long Calls, long Bytes, TimeSpan Time)>? inFlow)
    {
        if (Volatile.Read(ref _sharedConnections) is not { } used)
        {
            return null;
        }

        var rows = new List<IoAggregate>();
        lock (used)
        {
            foreach (var (connection, before) in used)
            {
                var byProbe = SharedConnection.Between(before, connection.Read()).ToDictionary(static c => c.Probe, static c => (c.Calls, c.Bytes, c.Time));
                foreach (var call in inFlow ?? [])
                {
                    if (call.Fd == connection.Fd)
                    {
                        var (calls, bytes, time) = byProbe.GetValueOrDefault(call.Probe);
                        byProbe[call.Probe] = (calls + call.Calls, bytes + call.Bytes, time + call.Time);
                    }
                }

                foreach (var (probe, (calls, bytes, time)) in byProbe)
                {
                    if (_records[probe])
                    {
                        rows.Add(new IoAggregate(
                            ProbeCatalog.Name(probe),
                            null,
                            null,
                            _keepsContext ? SourceLocation.SharedConnection.Method : null,
                            _keepsContext ? connection.Fd : null,
                            _keepsContext ? Redactor.Target(connection.Peer, _redaction) : null,
                            calls,
                            _countsBytes ? bytes : 0,
                            MeasuresTime ? time : TimeSpan.Zero,
                            TimeSpan.Zero,
                            _keepsContext ? IoTargetKind.Socket : IoTargetKind.Other));
                    }
                }
            }
        }

        rows.Sort(s_order);
        return rows;
    }

    /// <summary>The trace no longer uses its shared connections: the last user's stop ends their counting.</summary>
    private void StopUsingSharedConnections()
    {
        if (Volatile.Read(ref _sharedConnections) is not { } used)
        {
            return;
        }

        lock (used)
        {
            foreach (var (connection, _) in used)
            {
                if (connection.RemoveUser())
                {
                    Recorder.FollowSharedConnection(connection, follow: false);
                }
            }
        }
    }

    /// <summary>The line of the trace's asynchronous name resolutions when one line made them all; else null.</summary>
    private SourceLocation? NameResolutionLine()
    {
        if (Volatile.Read(ref _nameResolutions) is not { } resolutions)
        {
            return null;
        }

        lock (resolutions)
        {
            var line = resolutions.Count > 0 ? resolutions[0] : null;
            return line is not null && resolutions.TrueForAll(site => site is not null && site.IsSameLine(line)) ? line : null;
        }
    }

    /// <summary>The HttpClient requests noted so far, in no particular order.</summary>
    public HttpRequestSite[] HttpRequests()
    {
        if (Volatile.Read(ref _httpRequests) is not { } requests)
        {
            return [];
        }

        lock (requests)
        {
            return [.. requests];
        }
    }

    /// <summary>
    /// The calls, bytes and wall time charged so far, while the trace runs: what a backend that delivers in the call's
    /// flow has counted up to now (a kernel backend's calls wait in the kernel until its next flush).
    /// </summary>
    public (long Calls, long Bytes, TimeSpan Time) SoFar()
    {
        long calls = 0, bytes = 0, ticks = 0;
        if (Volatile.Read(ref _byProbe) is { } byProbe)
        {
            foreach (var counter in byProbe)
            {
                if (counter is not null)
                {
                    (calls, bytes, ticks) = (calls + counter.Calls, bytes + counter.Bytes, ticks + counter.Ticks);
                }
            }
        }
        else if (Volatile.Read(ref _byKey) is { } byKey)
        {
            foreach (var (key, counter) in byKey)
            {
                if (!ReferenceEquals(key.Site, SourceLocation.Runtime))
                {
                    (calls, bytes, ticks) = (calls + counter.Calls, bytes + counter.Bytes, ticks + counter.Ticks);
                }
            }
        }

        return (calls, bytes, Stopwatch.GetElapsedTime(0, ticks));
    }

    /// <summary>Ends the flow's part: later calls are not charged, and the report's elapsed time ends here.</summary>
    public void Deactivate()
    {
        if (Interlocked.CompareExchange(ref _stopTimestamp, Stopwatch.GetTimestamp(), 0) == 0)
        {
            _active = false;
            StopUsingSharedConnections();
        }
    }

    /// <summary>When <see cref="Deactivate"/> ran, in <see cref="Stopwatch"/> ticks; 0 while active.</summary>
    public long StopTimestamp => Volatile.Read(ref _stopTimestamp);

    /// <summary>
    /// The report, once every call is charged. <paramref name="mayWaitForPeers"/>: the caller is off the request's path
    /// (a backend that delivers late), so it may wait, once per host, for the addresses a traced HttpClient request's
    /// host name resolves to.
    /// </summary>
    public IoTraceReport Stop(bool mayWaitForPeers = false)
    {
        Deactivate();
        if (_ownedFds is { } owned)
        {
            lock (owned)
            {
                FdOwners.Release(this, owned);
            }
        }

        ClientEventSources.ChargeAll(this);
        var elapsed = Stopwatch.GetElapsedTime(_startTimestamp, _stopTimestamp);
        var aggregates = new List<IoAggregate>();
        List<(int Fd, int Probe, long Calls, long Bytes, TimeSpan Time)>? inFlowShared = null;
        if (Volatile.Read(ref _byProbe) is { } byProbe)
        {
            for (var slot = 0; slot < byProbe.Length; slot++)
            {
                var c = Volatile.Read(ref byProbe[slot]);
                if (c is { Calls: > 0 })
                {
                    aggregates.Add(new IoAggregate(ProbeCatalog.Name(_firstProbe + slot), null, null, null, null, null, c.Calls, c.Bytes, c.Time, c.Cpu));
                }
            }
        }
        else if (Volatile.Read(ref _byKey) is { } byKey)
        {
            // Matched only for a call that its stack and its fd leave without a line: in process, rarely any.
            IReadOnlyDictionary<string, SourceLocation>? peerLines = null;
            var resolutionLine = NameResolutionLine();
            foreach (var (key, c) in byKey)
            {
                var target = c.Target;
                var site = LineOf(key, target, resolutionLine, mayWaitForPeers, ref peerLines);
                if (!site.IsApplication && IsMultiplexedTransfer(key.Probe, target))
                {
                    // A multiplexed connection's reads and writes with no line of their own: a kernel backend cannot see the
                    // connection's loops on their stacks, and charges the first ones to the request that opened it. They
                    // are the connection's: shared, where the trace follows it.
                    (inFlowShared ??= []).Add((key.Fd, key.Probe, c.Calls, c.Bytes, c.Time));
                    continue;
                }

                aggregates.Add(new IoAggregate(
                    ProbeCatalog.Name(key.Probe),
                    Redactor.SourceFile(site.FileRelativeTo(_rootPath), _redaction),
                    site.Line,
                    site.Method,
                    key.Fd >= 0 ? key.Fd : null,
                    Redactor.Target(target, _redaction, ProbeCatalog.Has(key.Probe, ProbeTraits.NamesHost)),
                    c.Calls,
                    c.Bytes,
                    c.Time,
                    c.Cpu,
                    Redactor.KindOf(target)));
            }

            aggregates.Sort(s_order);
            MergeSameRows(aggregates);
        }

        return new IoTraceReport(Strategy, Backend, elapsed, aggregates, isComplete: !_incomplete, Features, SharedAggregates(inFlowShared));
    }

    /// <summary>
    /// A call's line: the application line on its stack; without one, the line its thread inherited (a backend's
    /// <see cref="IoCall.QueuedBy"/>); without that, the line that opened its fd; without that, for a
    /// call of an asynchronous name resolution, the line that started the trace's (<paramref name="resolutionLine"/>),
    /// or the line of the HttpClient request that named its peer; without that, the one line that made calls on its
    /// fd's life (a pooled connection's read that a kernel backend saw retried on a runtime thread). A stack the backend
    /// could not walk to its end yet takes neither: the call was made below an application frame of its own. The peers'
    /// lines are read once, for the first call that needs them (<paramref name="peerLines"/>).
    /// </summary>
    private SourceLocation LineOf(AggregateKey key, string? target, SourceLocation? resolutionLine, bool mayWaitForPeers, ref IReadOnlyDictionary<string, SourceLocation>? peerLines)
    {
        var site = key.Site;
        if (site.IsApplication)
        {
            return site;
        }

        // The line its thread inherited (its work item's, its flow's), where the backend kept it; not for a multiplexed
        // connection's reads and writes, which its loops make for every request in the flow of the one that opened it.
        if (!ReferenceEquals(site, SourceLocation.StackIncomplete) && key.QueuedBy is { } queued
            && !IsMultiplexedTransfer(key.Probe, target))
        {
            return queued;
        }

        if (!ReferenceEquals(site, SourceLocation.StackIncomplete) && key.Life?.OpenedAt is { } opener)
        {
            return opener;
        }

        if (ReferenceEquals(site, SourceLocation.NameResolution) && resolutionLine is not null)
        {
            return resolutionLine;
        }

        if (target is not null && (peerLines ??= PeerLines(mayWaitForPeers)).TryGetValue(target, out var line))
        {
            return line;
        }

        return !ReferenceEquals(site, SourceLocation.StackIncomplete) && key.Life?.OnlyLineUsed is { } used ? used : site;
    }

    /// <summary>A read or write on a multiplexed connection (<see cref="HttpClientRequests.IsMultiplexedPeer"/>): its loops make them for every request.</summary>
    private static bool IsMultiplexedTransfer(int probe, string? target) =>
        target is not null && ProbeCatalog.Has(probe, ProbeTraits.MovesBytes) && HttpClientRequests.IsMultiplexedPeer(target);

    private IReadOnlyDictionary<string, SourceLocation> PeerLines(bool mayWait)
    {
        var requests = HttpRequests();
        if (requests.Length == 0)
        {
            return s_noPeerLines;
        }

        var wait = mayWait ? s_peerAddressWait : TimeSpan.Zero;
        return HttpClientPeers.Lines(requests, (host, port) => HttpClientConnections.AddressesOf(host, port, wait));
    }

    private static readonly Comparison<IoAggregate> s_order = static (a, b) =>
    {
        var order = string.CompareOrdinal(a.File ?? a.Method, b.File ?? b.Method);
        if (order == 0)
        {
            order = Nullable.Compare(a.Line, b.Line);
        }

        if (order == 0)
        {
            order = string.CompareOrdinal(a.Probe, b.Probe);
        }

        if (order == 0)
        {
            order = Nullable.Compare(a.Fd, b.Fd);
        }

        if (order == 0)
        {
            order = string.CompareOrdinal(a.Target, b.Target);
        }

        // Two lambdas on one line: their rows stay apart, and each one's rows next to each other.
        return order == 0 ? string.CompareOrdinal(a.Method, b.Method) : order;
    };

    /// <summary>
    /// Rows that report alike make one: two lives of one fd number that end with the same target (a file opened twice,
    /// closed between), and calls that took the same line through their opener or their peer. Rows arrive sorted, so
    /// equal ones are neighbours.
    /// </summary>
    private static void MergeSameRows(List<IoAggregate> sorted)
    {
        var kept = 0;
        for (var i = 0; i < sorted.Count; i++)
        {
            var row = sorted[i];
            if (kept > 0 && sorted[kept - 1] is var last && last.Probe == row.Probe && last.Line == row.Line && last.Fd == row.Fd
                && string.Equals(last.File, row.File, StringComparison.Ordinal) && string.Equals(last.Method, row.Method, StringComparison.Ordinal)
                && string.Equals(last.Target, row.Target, StringComparison.Ordinal))
            {
                sorted[kept - 1] = new IoAggregate(last.Probe, last.File, last.Line, last.Method, last.Fd, last.Target,
                    last.Calls + row.Calls, last.Bytes + row.Bytes, last.Time + row.Time, last.Cpu + row.Cpu, last.TargetKind);
                continue;
            }

            sorted[kept++] = row;
        }

        sorted.RemoveRange(kept, sorted.Count - kept);
    }

    private Counter?[] CreateByProbe()
    {
        var created = new Counter?[ProbeRange(Recorder).Count];
        return Interlocked.CompareExchange(ref _byProbe, created, null) ?? created;
    }

    private ConcurrentDictionary<AggregateKey, Counter> CreateByKey()
    {
        var created = new ConcurrentDictionary<AggregateKey, Counter>(AggregateKey.Comparer);
        return Interlocked.CompareExchange(ref _byKey, created, null) ?? created;
    }

    private static (int First, int Count) ProbeRange(IIoTraceBackend recorder) =>
        ProbeCatalog.Range(windows: (recorder.Capabilities & BackendCapabilities.CountsWindowsOperations) != 0);

    private static Counter CreateCounter(Counter?[] byProbe, int slot)
    {
        var created = new Counter(null, null);
        return Interlocked.CompareExchange(ref byProbe[slot], created, null) ?? created;
    }

    private static bool[] RecordsFor(Strategy strategy) =>
        [.. Enumerable.Range(0, ProbeCatalog.Count).Select(probe => ProbeCatalog.Records(strategy, ProbeCatalog.Kind(probe)))];

    /// <summary>The root as a full path; a request trace gives the same root every time, so the last one is kept.</summary>
    private static string FullRoot(string rootPath)
    {
        var last = s_lastRoot;
        if (last is not null && last.Given == rootPath)
        {
            return last.Full;
        }

        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(rootPath));
        s_lastRoot = new RootPath(rootPath, full);
        return full;
    }

    /// <summary>An HttpClient request: host and port as its URI named them, and its application line (null: none).</summary>
    internal readonly record struct HttpRequestSite(string Host, int Port, SourceLocation? Site);

    private sealed record RootPath(string Given, string Full);

    private readonly record struct AggregateKey(int Probe, SourceLocation Site, int Fd, string? Target, FdLife? Life, SourceLocation? QueuedBy)
    {
        public static readonly IEqualityComparer<AggregateKey> Comparer = new KeyComparer();

        /// <summary>
        /// Sites are interned, so identity compares them (the record's default would call their Equals). Targets are
        /// hashed in full: a request that opens thousands of similar paths on one reused fd must not collide.
        /// </summary>
        private sealed class KeyComparer : IEqualityComparer<AggregateKey>
        {
            public bool Equals(AggregateKey x, AggregateKey y) =>
                x.Probe == y.Probe && x.Fd == y.Fd && ReferenceEquals(x.Site, y.Site) && ReferenceEquals(x.Life, y.Life)
                && ReferenceEquals(x.QueuedBy, y.QueuedBy) && string.Equals(x.Target, y.Target, StringComparison.Ordinal);

            public int GetHashCode(AggregateKey key) =>
                HashCode.Combine(key.Probe, key.Fd, RuntimeHelpers.GetHashCode(key.Site), key.Life is { } life ? RuntimeHelpers.GetHashCode(life) : 0,
                    key.Target is { } target ? StringComparer.Ordinal.GetHashCode(target) : 0, key.QueuedBy is { } queued ? RuntimeHelpers.GetHashCode(queued) : 0);
        }
    }

    private sealed class Counter(string? target, FdLife? life)
    {
        private long _calls;
        private long _bytes;
        private long _ticks;
        private long _cpu;

        /// <summary>The call's target; for a call on an fd's life, the one that life has now.</summary>
        public string? Target => life is null ? target : life.Target;

        public long Calls => Volatile.Read(ref _calls);

        public long Bytes => Volatile.Read(ref _bytes);

        public long Ticks => Volatile.Read(ref _ticks);

        public TimeSpan Time => TimeSpan.FromTicks((long)(Volatile.Read(ref _ticks) * ((double)TimeSpan.TicksPerSecond / Stopwatch.Frequency)));

        public TimeSpan Cpu => TimeSpan.FromTicks(Volatile.Read(ref _cpu) / 100);

        public void Add(long calls, long bytes, long wallTicks, long cpuNanoseconds)
        {
            if (calls == 1)
            {
                Interlocked.Increment(ref _calls);
            }
            else
            {
                Interlocked.Add(ref _calls, calls);
            }

            if (bytes > 0)
            {
                Interlocked.Add(ref _bytes, bytes);
            }

            // Features left out measure zero: skip their atomics, the hot path's largest cost after the clocks.
            if (wallTicks != 0)
            {
                Interlocked.Add(ref _ticks, wallTicks);
            }

            if (cpuNanoseconds != 0)
            {
                Interlocked.Add(ref _cpu, cpuNanoseconds);
            }
        }
    }
}
