using System.Collections.Concurrent;

namespace IoTrace.Etw.Translation;

/// <summary>
/// How the event reader learns that every event made before a time has been read. ETW delivers each CPU's buffers when
/// they fill or are flushed, so events arrive late and out of order between CPUs. The flush thread notes the time,
/// flushes the session, then opens a marker file: the marker's own create event is delivered only after the buffers that
/// flush handed over, so reading it proves every event made before the noted time was read.
/// </summary>
internal sealed class FlushMarkers(TimeProvider time)
{
    private readonly ConcurrentQueue<long> _flushes = new();
    private volatile int _threadId = -1;

    /// <summary>The OS thread that opens the marker files; none of its events is a call of the app.</summary>
    public int ThreadId
    {
        get => _threadId;
        set => _threadId = value;
    }

    /// <summary>On the flush thread, before it flushes the session: the time the coming marker stands for.</summary>
    public long BeforeFlush()
    {
        var now = time.GetTimestamp();
        _flushes.Enqueue(now);
        return now;
    }

    /// <summary>
    /// On the event thread, for an event of the flush thread made at <paramref name="timestamp"/>: the time up to which
    /// every event has been read (the last flush noted before this marker), if that moved.
    /// </summary>
    public bool TryPass(long timestamp, out long watermark)
    {
        watermark = 0;
        var passed = false;
        while (_flushes.TryPeek(out var flushed) && flushed < timestamp && _flushes.TryDequeue(out flushed))
        {
            watermark = flushed;
            passed = true;
        }

        return passed;
    }
}
