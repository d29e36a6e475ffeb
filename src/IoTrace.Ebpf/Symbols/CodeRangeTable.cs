namespace IoTrace.Ebpf.Symbols;

/// <summary>
/// The JIT'd code ranges sorted by start address, for lookups from any thread while the event thread adds and
/// removes ranges. Readers binary-search an immutable snapshot (no lock, no allocation); writers queue changes
/// under a lock and the next reader that finds changes pending publishes a new snapshot, so a burst of thousands
/// of events (rundown) costs one merge instead of one array copy per event. Of two overlapping ranges the newer
/// wins (the runtime reused the memory).
/// </summary>
/// <remarks>
/// A snapshot has two tables: the base, and the ranges added since the base was last merged, all newer than it.
/// Under a trickle of JIT events (tier-1 compilations go on for a while under load) a publish then rebuilds only the
/// small table, not the whole map's arrays, which are large-object-heap allocations at a few thousand methods.
/// </remarks>
internal sealed class CodeRangeTable
{
    /// <summary>Ranges the recent table holds before a publish merges it into the base.</summary>
    internal const int MaxRecent = 1024;

    private readonly Lock _gate = new();
    private readonly List<JittedCode> _added = [];
    private readonly HashSet<long> _removedMethods = [];
    private Snapshot _snapshot = Snapshot.Empty;
    private volatile bool _dirty;
    private long _sequence;

    /// <summary>How many ranges a lookup can find.</summary>
    public int Count
    {
        get
        {
            var snapshot = Current();
            return snapshot.Recent.Codes.Length + snapshot.Base.Codes.Count(c => !snapshot.Recent.Overlaps(c));
        }
    }

    public long NextSequence() => Interlocked.Increment(ref _sequence);

    public void Add(JittedCode code)
    {
        lock (_gate)
        {
            _added.Add(code);
            _dirty = true;
        }
    }

    /// <summary>Drops every code version of a method (MethodUnload), including versions still queued.</summary>
    public void RemoveMethod(long methodId)
    {
        lock (_gate)
        {
            _removedMethods.Add(methodId);
            _added.RemoveAll(c => c.Method.MethodId == methodId);
            _dirty = true;
        }
    }

    /// <summary>The code range containing <paramref name="address"/>, or null.</summary>
    public JittedCode? Find(ulong address)
    {
        var snapshot = Current();
        if (snapshot.Recent.Find(address) is { } recent)
        {
            return recent;
        }

        // A newer range overlapping the base's would have dropped it in a merge.
        return snapshot.Base.Find(address) is { } code && !snapshot.Recent.Overlaps(code) ? code : null;
    }

    /// <summary>Every code version of a method, in address order (diagnostics and tests: a linear scan).</summary>
    public JittedCode[] FindMethod(long methodId)
    {
        var snapshot = Current();
        return [.. snapshot.Base.Codes.Where(c => !snapshot.Recent.Overlaps(c)).Concat(snapshot.Recent.Codes)
            .Where(c => c.Method.MethodId == methodId)
            .OrderBy(c => c.Start)];
    }

    private Snapshot Current() => _dirty ? Publish() : Volatile.Read(ref _snapshot);

    private Snapshot Publish()
    {
        lock (_gate)
        {
            if (!_dirty)
            {
                return _snapshot;
            }

            var current = _snapshot;
            Snapshot snapshot;
            if (_removedMethods.Count == 0 && current.Recent.Codes.Length + _added.Count <= MaxRecent)
            {
                snapshot = new Snapshot(current.Base, Ranges.Merge(current.Recent.Codes, _added, _removedMethods));
            }
            else
            {
                // Recent ranges are newer than the base's: merged as additions, the overlap rule keeps them.
                _added.AddRange(current.Recent.Codes.Where(c => !_removedMethods.Contains(c.Method.MethodId)));
                snapshot = new Snapshot(Ranges.Merge(current.Base.Codes, _added, _removedMethods), Ranges.Empty);
            }

            _added.Clear();
            _removedMethods.Clear();
            Volatile.Write(ref _snapshot, snapshot);
            _dirty = false;
            return snapshot;
        }
    }

    private sealed record Snapshot(Ranges Base, Ranges Recent)
    {
        public static readonly Snapshot Empty = new(Ranges.Empty, Ranges.Empty);
    }

    /// <summary>Non-overlapping ranges in start order.</summary>
    private sealed class Ranges
    {
        public static readonly Ranges Empty = new([]);

        private readonly ulong[] _starts;

        private Ranges(JittedCode[] codes)
        {
            Codes = codes;
            _starts = new ulong[codes.Length];
            for (var k = 0; k < codes.Length; k++)
            {
                _starts[k] = codes[k].Start;
            }
        }

        public JittedCode[] Codes { get; }

        /// <summary>
        /// <paramref name="old"/> (minus removed methods) and <paramref name="added"/>, in start order, dropping the
        /// older of any two that overlap.
        /// </summary>
        public static Ranges Merge(JittedCode[] old, List<JittedCode> added, HashSet<long> removedMethods)
        {
            added.Sort(static (a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.Sequence.CompareTo(b.Sequence));
            var merged = new List<JittedCode>(old.Length + added.Count);
            int i = 0, j = 0;
            while (i < old.Length || j < added.Count)
            {
                JittedCode next;
                if (j == added.Count || (i < old.Length && old[i].Start < added[j].Start))
                {
                    next = old[i++];
                    if (removedMethods.Contains(next.Method.MethodId))
                    {
                        continue;
                    }
                }
                else
                {
                    next = added[j++];
                }

                while (merged.Count > 0 && merged[^1].End > next.Start && merged[^1].Sequence < next.Sequence)
                {
                    merged.RemoveAt(merged.Count - 1);
                }

                if (merged.Count > 0 && merged[^1].End > next.Start)
                {
                    continue;
                }

                merged.Add(next);
            }

            return new Ranges([.. merged]);
        }

        /// <summary>The range containing <paramref name="address"/>, or null.</summary>
        public JittedCode? Find(ulong address)
        {
            var index = LastStartingBefore(address + 1);
            return index >= 0 && address < Codes[index].End ? Codes[index] : null;
        }

        /// <summary>Whether any range here overlaps <paramref name="code"/>'s.</summary>
        public bool Overlaps(JittedCode code)
        {
            // The ranges do not overlap each other: of those starting before the code's end, the last ends last.
            var index = LastStartingBefore(code.End);
            return index >= 0 && Codes[index].End > code.Start;
        }

        /// <summary>The index of the last range whose start is below <paramref name="bound"/>, or -1.</summary>
        private int LastStartingBefore(ulong bound)
        {
            int lo = 0, hi = _starts.Length;
            while (lo < hi)
            {
                var mid = (int)((uint)(lo + hi) >> 1);
                if (_starts[mid] < bound)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            return lo - 1;
        }
    }
}
