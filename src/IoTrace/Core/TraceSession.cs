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

    public void Record(int probe, SourceLocation? site, int fd, string? target, long bytes, long wallTicks, long cpuNanoseconds)
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
            var key = new AggregateKey(probe, site ?? SourceLocation.Unknown, fd, target);
            if (!byKey.TryGetValue(key, out counter!))
            {
                counter = byKey.GetOrAdd(key, static k => new Counter(k.Target));
            }
        }

        counter.Add(_countsBytes ? bytes : 0, wallTicks, cpuNanoseconds);
    }

    /// <summary>What this trace knows of an fd: its target, and the application line that opened it.</summary>
    public FdInfo? Fd(int fd) => _fds is { } fds && fds.TryGetValue(fd, out var info) ? info : null;

    public void RememberFd(int fd, string? target, SourceLocation? openedAt)
    {
        if (fd < 0)
        {
            return;
        }

        var known = Fd(fd);
        var fds = _fds ?? Interlocked.CompareExchange(ref _fds, new ConcurrentDictionary<int, FdInfo>(), null) ?? _fds!;
        fds[fd] = new FdInfo(target ?? known?.Target, openedAt is { IsApplication: true } ? openedAt : known?.OpenedAt);
    }

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

    /// <summary>How many fds the trace knows (for tests of the idle size).</summary>
    public int KnownFds => _fds?.Count ?? 0;

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
            var key = new AggregateKey(probe, site ?? SourceLocation.Unknown, fd, target);
            counter = (Volatile.Read(ref _byKey) ?? CreateByKey()).GetOrAdd(key, static k => new Counter(k.Target));
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

            aggregates.Sort(static (a, b) =>
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

                return order == 0 ? string.CompareOrdinal(a.Target, b.Target) : order;
            });
        }

        return new IoTraceReport(Strategy, Backend, elapsed, aggregates, isComplete: !_incomplete, Features);
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
        var created = new Counter(null);
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

    internal sealed record FdInfo(string? Target, SourceLocation? OpenedAt);

    /// <summary>An HttpClient request: host and port as its URI named them, and its application line (null: none).</summary>
    internal readonly record struct HttpRequestSite(string Host, int Port, SourceLocation? Site);

    private sealed record RootPath(string Given, string Full);

    private readonly record struct AggregateKey(int Probe, SourceLocation Site, int Fd, string? Target)
    {
        public static readonly IEqualityComparer<AggregateKey> Comparer = new KeyComparer();

        /// <summary>
        /// Sites are interned, so identity compares them (the record's default would call their Equals). Targets are
        /// hashed in full: a request that opens thousands of similar paths on one reused fd must not collide.
        /// </summary>
        private sealed class KeyComparer : IEqualityComparer<AggregateKey>
        {
            public bool Equals(AggregateKey x, AggregateKey y) =>
                x.Probe == y.Probe && x.Fd == y.Fd && ReferenceEquals(x.Site, y.Site) && string.Equals(x.Target, y.Target, StringComparison.Ordinal);

            public int GetHashCode(AggregateKey key) =>
                HashCode.Combine(key.Probe, key.Fd, RuntimeHelpers.GetHashCode(key.Site), key.Target is { } target ? StringComparer.Ordinal.GetHashCode(target) : 0);
        }
    }

    private sealed class Counter(string? target)
    {
        private long _calls;
        private long _bytes;
        private long _ticks;
        private long _cpu;

        public string? Target { get; } = target;

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
