using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace IoTrace.Core;

/// <summary>The aggregates of one running trace. Calls arrive concurrently from every thread of its flow.</summary>
internal sealed class TraceSession
{
    private static readonly bool[][] s_recordsByStrategy = [.. Enum.GetValues<Strategy>().Select(RecordsFor)];
    private static RootPath? s_lastRoot;
    private static long s_lastId;

    private readonly bool[] _records;
    // Created on the first call: a request that makes none allocates neither, and under a kernel backend thousands of
    // stopped traces wait for their flush at once.
    private Counter?[]? _byProbe;
    private ConcurrentDictionary<AggregateKey, Counter>? _byKey;
    private readonly bool _keepsContext;
    private ConcurrentDictionary<int, FdInfo>? _fds;
    private List<int>? _ownedFds;
    private List<HttpRequestSite>? _httpRequests;
    private readonly long _startTimestamp;
    private long _stopTimestamp;
    private readonly string _rootPath;
    private volatile bool _active = true;
    private volatile bool _incomplete;
    private readonly bool _countsBytes;
    private readonly IoTraceRedaction _redaction;

    public TraceSession(Strategy strategy, IoTraceFeatures features, string backend, CallSiteResolver resolver, string rootPath, IoTraceRedaction redaction = IoTraceRedaction.None)
    {
        _redaction = redaction;
        Strategy = strategy;
        Features = features | IoTraceFeatures.Calls;
        MeasuresTime = features.HasFlag(IoTraceFeatures.Time);
        MeasuresCpu = features.HasFlag(IoTraceFeatures.Cpu);
        _countsBytes = features.HasFlag(IoTraceFeatures.Bytes);
        Backend = backend;
        Resolver = resolver;
        _rootPath = FullRoot(rootPath);
        _records = s_recordsByStrategy[(int)strategy];

        _keepsContext = strategy != Strategy.Summary;

        Id = Interlocked.Increment(ref s_lastId);
        _startTimestamp = Stopwatch.GetTimestamp();
    }

    /// <summary>Unique in the process, never 0: how a kernel backend names the trace.</summary>
    public long Id { get; }

    /// <summary>Whether the in-process hooks record this trace's calls; false when a kernel backend does.</summary>
    public bool HookedInProcess { get; set; } = true;

    public Strategy Strategy { get; }

    public IoTraceFeatures Features { get; }

    public bool MeasuresTime { get; }

    public bool MeasuresCpu { get; }

    /// <summary>The backend that records the trace; a backend that hands a trace to its fallback renames it.</summary>
    public string Backend { get; set; }

    public CallSiteResolver Resolver { get; }

    public bool IsActive => _active;

    /// <summary>Backend bookkeeping: the install generation this trace was counted in, or -1.</summary>
    public int BackendGeneration { get; set; } = -1;

    /// <summary>Whether the strategy keeps file, line and fd context (all but Summary).</summary>
    public bool KeepsContext => _keepsContext;

    public bool Records(int probe) => _records[probe];

    /// <summary>Marks the report incomplete: the backend may have missed calls.</summary>
    public void MarkIncomplete() => _incomplete = true;

    /// <summary>
    /// Records one call. With <paramref name="life"/> (the fd's life in this trace), the call reports the target that
    /// life has when the trace stops, not <paramref name="target"/>.
    /// </summary>
    public void Record(int probe, SourceLocation? site, int fd, string? target, long bytes, long wallTicks, long cpuNanoseconds, FdInfo? life = null)
    {
        Counter counter;
        if (!_keepsContext)
        {
            var byProbe = Volatile.Read(ref _byProbe) ?? CreateByProbe();
            counter = Volatile.Read(ref byProbe[probe]) ?? CreateCounter(byProbe, probe);
        }
        else
        {
            var byKey = Volatile.Read(ref _byKey) ?? CreateByKey();
            var key = new AggregateKey(probe, site ?? SourceLocation.Unknown, fd, life is null ? target : null, life);
            if (!byKey.TryGetValue(key, out counter!))
            {
                counter = byKey.GetOrAdd(key, static k => new Counter(k.Target, k.Life));
            }
        }

        counter.Add(_countsBytes ? bytes : 0, wallTicks, cpuNanoseconds);
    }

    /// <summary>What this trace knows of an fd: its target, and the application line that opened it.</summary>
    public FdInfo? Fd(int fd) => _fds is { } fds && fds.TryGetValue(fd, out var info) ? info : null;

    /// <summary>An fd opened (a file, a socket, an accepted connection): a new life, whatever the number held before.</summary>
    public FdInfo? OpenFd(int fd, string? target, SourceLocation? openedAt)
    {
        if (fd < 0)
        {
            return null;
        }

        var life = new FdInfo(target, openedAt is { IsApplication: true } ? openedAt : null);
        Fds()[fd] = life;
        return life;
    }

    /// <summary>
    /// An fd named (a connect's peer, or what /proc says of an fd first seen): its current life takes the name, so the
    /// calls made on it before (a socket's options, set before its connect) report it too.
    /// </summary>
    public FdInfo? NameFd(int fd, string? target, SourceLocation? openedAt)
    {
        if (fd < 0)
        {
            return null;
        }

        if (Fd(fd) is not { } life)
        {
            return OpenFd(fd, target, openedAt);
        }

        if (target is not null)
        {
            life.Target = target;
        }

        if (openedAt is { IsApplication: true } && life.OpenedAt is null)
        {
            life.OpenedAt = openedAt;
        }

        return life;
    }

    private ConcurrentDictionary<int, FdInfo> Fds() =>
        _fds ?? Interlocked.CompareExchange(ref _fds, new ConcurrentDictionary<int, FdInfo>(), null) ?? _fds!;

    public void ForgetFd(int fd) => _fds?.TryRemove(fd, out _);

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
    /// Notes an HttpClient request this flow made, for a kernel backend: its IO runs on the thread pool with no
    /// application frame, so at flush the request's peer is how its sockets find the line.
    /// </summary>
    public void RecordHttpRequest(string host, int port, SourceLocation? site)
    {
        var requests = _httpRequests ?? Interlocked.CompareExchange(ref _httpRequests, [], null) ?? _httpRequests!;
        lock (requests)
        {
            requests.Add(new HttpRequestSite(host, port, site));
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

    /// <summary>Records calls a backend aggregated elsewhere (in the kernel): <paramref name="calls"/> calls at once.</summary>
    public void RecordMany(int probe, SourceLocation? site, int fd, string? target, long calls, long bytes, long wallNanoseconds, long cpuNanoseconds)
    {
        if (calls <= 0)
        {
            return;
        }

        Counter counter;
        if (!_keepsContext)
        {
            var byProbe = Volatile.Read(ref _byProbe) ?? CreateByProbe();
            counter = Volatile.Read(ref byProbe[probe]) ?? CreateCounter(byProbe, probe);
        }
        else
        {
            var key = new AggregateKey(probe, site ?? SourceLocation.Unknown, fd, target, null);
            counter = (Volatile.Read(ref _byKey) ?? CreateByKey()).GetOrAdd(key, static k => new Counter(k.Target, null));
        }

        var ticks = MeasuresTime ? (long)(wallNanoseconds * (Stopwatch.Frequency / 1e9)) : 0;
        counter.AddMany(calls, _countsBytes ? bytes : 0, ticks, MeasuresCpu ? cpuNanoseconds : 0);
    }

    /// <summary>Ends the flow's part: later calls are not charged, and the report's elapsed time ends here.</summary>
    public void Deactivate()
    {
        if (Interlocked.CompareExchange(ref _stopTimestamp, Stopwatch.GetTimestamp(), 0) == 0)
        {
            _active = false;
        }
    }

    /// <summary>When <see cref="Deactivate"/> ran, in <see cref="Stopwatch"/> ticks; 0 while active.</summary>
    public long StopTimestamp => Volatile.Read(ref _stopTimestamp);

    public IoTraceReport Stop()
    {
        Deactivate();
        if (_ownedFds is { } owned)
        {
            lock (owned)
            {
                FdOwners.Release(this, owned);
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(_startTimestamp, _stopTimestamp);
        var aggregates = new List<IoAggregate>();
        if (Volatile.Read(ref _byProbe) is { } byProbe)
        {
            for (var probe = 0; probe < byProbe.Length; probe++)
            {
                var c = Volatile.Read(ref byProbe[probe]);
                if (c is { Calls: > 0 })
                {
                    aggregates.Add(new IoAggregate(Probes.Name(probe), null, null, null, null, null, c.Calls, c.Bytes, c.Time, c.Cpu));
                }
            }
        }
        else if (Volatile.Read(ref _byKey) is { } byKey)
        {
            foreach (var (key, c) in byKey)
            {
                var site = key.Site;
                aggregates.Add(new IoAggregate(
                    Probes.Name(key.Probe),
                    Redactor.SourceFile(site.FileRelativeTo(_rootPath), _redaction),
                    site.Line,
                    site.Method,
                    key.Fd >= 0 ? key.Fd : null,
                    Redactor.Target(c.Target, _redaction),
                    c.Calls,
                    c.Bytes,
                    c.Time,
                    c.Cpu));
            }

            aggregates.Sort(s_order);
            MergeSameRows(aggregates);
        }

        return new IoTraceReport(Strategy, Backend, elapsed, aggregates, isComplete: !_incomplete, Features);
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
    /// Two lives of one fd number that end with the same target (a file opened twice, closed between) make one row, as
    /// they would have had each call been keyed by its target. Rows arrive sorted, so equal ones are neighbours.
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
                    last.Calls + row.Calls, last.Bytes + row.Bytes, last.Time + row.Time, last.Cpu + row.Cpu);
                continue;
            }

            sorted[kept++] = row;
        }

        sorted.RemoveRange(kept, sorted.Count - kept);
    }

    private Counter?[] CreateByProbe()
    {
        var created = new Counter?[Probes.Count];
        return Interlocked.CompareExchange(ref _byProbe, created, null) ?? created;
    }

    private ConcurrentDictionary<AggregateKey, Counter> CreateByKey()
    {
        var created = new ConcurrentDictionary<AggregateKey, Counter>(AggregateKey.Comparer);
        return Interlocked.CompareExchange(ref _byKey, created, null) ?? created;
    }

    private static Counter CreateCounter(Counter?[] byProbe, int probe)
    {
        var created = new Counter(null, null);
        return Interlocked.CompareExchange(ref byProbe[probe], created, null) ?? created;
    }

    private static bool[] RecordsFor(Strategy strategy) =>
        [.. Enumerable.Range(0, Probes.Count).Select(probe => Probes.Records(strategy, Probes.Kind(probe)))];

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

    /// <summary>
    /// One life of an fd in this trace, from the call that opened it (or the first call seen on it) to its close: its
    /// target, which a connect may name after the first calls, and the application line that opened it.
    /// </summary>
    internal sealed class FdInfo(string? target, SourceLocation? openedAt)
    {
        private volatile string? _target = target;
        private volatile SourceLocation? _openedAt = openedAt;

        public string? Target
        {
            get => _target;
            set => _target = value;
        }

        public SourceLocation? OpenedAt
        {
            get => _openedAt;
            set => _openedAt = value;
        }
    }

    /// <summary>An HttpClient request: host and port as its URI named them, and its application line (null: none).</summary>
    internal readonly record struct HttpRequestSite(string Host, int Port, SourceLocation? Site);

    private sealed record RootPath(string Given, string Full);

    private readonly record struct AggregateKey(int Probe, SourceLocation Site, int Fd, string? Target, FdInfo? Life)
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
                && string.Equals(x.Target, y.Target, StringComparison.Ordinal);

            public int GetHashCode(AggregateKey key) =>
                HashCode.Combine(key.Probe, key.Fd, RuntimeHelpers.GetHashCode(key.Site), key.Life is { } life ? RuntimeHelpers.GetHashCode(life) : 0,
                    key.Target is { } target ? StringComparer.Ordinal.GetHashCode(target) : 0);
        }
    }

    private sealed class Counter(string? target, FdInfo? life)
    {
        private long _calls;
        private long _bytes;
        private long _ticks;
        private long _cpu;

        /// <summary>The call's target; for a call on an fd's life, the one that life has now.</summary>
        public string? Target => life is null ? target : life.Target;

        public long Calls => Volatile.Read(ref _calls);

        public long Bytes => Volatile.Read(ref _bytes);

        public TimeSpan Time => TimeSpan.FromTicks((long)(Volatile.Read(ref _ticks) * ((double)TimeSpan.TicksPerSecond / Stopwatch.Frequency)));

        public TimeSpan Cpu => TimeSpan.FromTicks(Volatile.Read(ref _cpu) / 100);

        public void AddMany(long calls, long bytes, long wallTicks, long cpuNanoseconds)
        {
            Interlocked.Add(ref _calls, calls);
            Interlocked.Add(ref _bytes, bytes);
            Interlocked.Add(ref _ticks, wallTicks);
            Interlocked.Add(ref _cpu, cpuNanoseconds);
        }

        public void Add(long bytes, long wallTicks, long cpuNanoseconds)
        {
            Interlocked.Increment(ref _calls);
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
