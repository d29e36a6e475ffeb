namespace IoTrace.Symbols.Managed;

/// <summary>
/// The JIT'd code ranges sorted by start address, for lookups from any thread while the event thread adds and
/// removes ranges. Readers binary-search an immutable snapshot (no lock, no allocation); writers queue changes
/// under a lock and the next reader that finds changes pending publishes a new snapshot, so a burst of thousands
/// of events (rundown) costs one merge instead of one array copy per event.
/// </summary>
internal sealed class CodeRangeTable
{
    private readonly Lock _gate = new();
    private readonly List<JittedCode> _added = [];
    private readonly HashSet<long> _removedMethods = [];
    private Snapshot _snapshot = Snapshot.Empty;
    private volatile bool _dirty;
    private long _sequence;

    public int Count => Current().Codes.Length;

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
        var starts = snapshot.Starts;

        // The last range whose start is not above the address.
        var count = SortedSearch.CountAtOrBelow<ulong>(starts, address);
        if (count == 0)
        {
            return null;
        }

        var code = snapshot.Codes[count - 1];
        return address < code.End ? code : null;
    }

    /// <summary>Every code version of a method, in address order (diagnostics and tests: a linear scan).</summary>
    public JittedCode[] FindMethod(long methodId) => [.. Current().Codes.Where(c => c.Method.MethodId == methodId)];

    private Snapshot Current() => _dirty ? Publish() : Volatile.Read(ref _snapshot);

    private Snapshot Publish()
    {
        lock (_gate)
        {
            if (!_dirty)
            {
                return _snapshot;
            }

            var old = _snapshot.Codes;
            _added.Sort(static (a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.Sequence.CompareTo(b.Sequence));

            // Merge the old ranges (minus removed methods) with the added ones, both in start order, dropping the
            // older of any two that overlap.
            var merged = new List<JittedCode>(old.Length + _added.Count);
            int i = 0, j = 0;
            while (i < old.Length || j < _added.Count)
            {
                JittedCode next;
                if (j == _added.Count || (i < old.Length && old[i].Start < _added[j].Start))
                {
                    next = old[i++];
                    if (_removedMethods.Contains(next.Method.MethodId))
                    {
                        continue;
                    }
                }
                else
                {
                    next = _added[j++];
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

            var codes = merged.ToArray();
            var starts = new ulong[codes.Length];
            for (var k = 0; k < codes.Length; k++)
            {
                starts[k] = codes[k].Start;
            }

            _added.Clear();
            _removedMethods.Clear();
            var snapshot = new Snapshot(starts, codes);
            Volatile.Write(ref _snapshot, snapshot);
            _dirty = false;
            return snapshot;
        }
    }

    private sealed record Snapshot(ulong[] Starts, JittedCode[] Codes)
    {
        public static readonly Snapshot Empty = new([], []);
    }
}
