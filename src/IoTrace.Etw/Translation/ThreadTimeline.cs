using System.Collections.Concurrent;
using IoTrace.Tracing;

namespace IoTrace.Etw.Translation;

/// <summary>
/// Which trace each thread ran, and since when: ETW delivers a call up to a second after it was made, on another thread,
/// so the trace of its thread is looked up at the call's time. The flow's trace is published here on every change
/// (<see cref="ThreadTraces"/>), on the thread it runs on, with the time of the change.
/// </summary>
/// <param name="time">The clock of the events' timestamps (QPC: <see cref="TimeProvider.System"/>).</param>
/// <param name="currentThreadId">The OS id of the calling thread, as events carry it.</param>
internal sealed class ThreadTimeline(TimeProvider time, Func<int> currentThreadId) : IThreadTracePublisher
{
    private readonly ConcurrentDictionary<int, Changes> _threads = new();

    public void Publish(TraceSession? session)
    {
        var timestamp = time.GetTimestamp();
        var threadId = currentThreadId();
        while (true)
        {
            var changes = _threads.GetOrAdd(threadId, static _ => new Changes());
            lock (changes)
            {
                // Forgotten as idle just now: the thread starts a new record.
                if (!changes.Forgotten)
                {
                    changes.Add(timestamp, session);
                    return;
                }
            }
        }
    }

    /// <summary>The trace thread <paramref name="threadId"/> ran at <paramref name="timestamp"/>; null: none.</summary>
    public TraceSession? TraceAt(int threadId, long timestamp)
    {
        if (!_threads.TryGetValue(threadId, out var changes))
        {
            return null;
        }

        lock (changes)
        {
            return changes.At(timestamp);
        }
    }

    /// <summary>
    /// Forgets the changes before <paramref name="timestamp"/>, keeping what each thread ran then: every event made
    /// before it has been read. A thread that ran no trace then, and changed nothing since, is forgotten entirely.
    /// </summary>
    public void ForgetBefore(long timestamp)
    {
        foreach (var (threadId, changes) in _threads)
        {
            lock (changes)
            {
                if (changes.ForgetBefore(timestamp))
                {
                    _threads.TryRemove(KeyValuePair.Create(threadId, changes));
                }
            }
        }
    }

    /// <summary>One thread's changes, in time order (appended by that thread); read under its lock.</summary>
    private sealed class Changes
    {
        private readonly List<(long Timestamp, TraceSession? Session)> _changes = [];

        public bool Forgotten { get; private set; }

        public void Add(long timestamp, TraceSession? session) => _changes.Add((timestamp, session));

        public TraceSession? At(long timestamp)
        {
            // Lookups are for recent events: from the end.
            for (var i = _changes.Count - 1; i >= 0; i--)
            {
                if (_changes[i].Timestamp <= timestamp)
                {
                    return _changes[i].Session;
                }
            }

            return null;
        }

        /// <summary>Drops the changes superseded before <paramref name="timestamp"/>; true when nothing is left to know.</summary>
        public bool ForgetBefore(long timestamp)
        {
            var last = _changes.FindLastIndex(c => c.Timestamp <= timestamp);
            if (last > 0)
            {
                _changes.RemoveRange(0, last);
            }

            Forgotten = last >= 0 && _changes.Count == 1 && _changes[0].Session is null;
            return Forgotten;
        }
    }
}
