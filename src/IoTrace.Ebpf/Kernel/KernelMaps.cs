using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// A retired buffer's maps, read and emptied at each flush with batch lookups (one system call per few hundred
/// entries): the aggregates, then the context maps if a trace with context wrote there, then the event count last, so
/// a call still being written shows as an event without its aggregate (reported lost) rather than the reverse.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class KernelMaps
{
    // Entries per batch call: more than any hash bucket holds (the kernel refuses a batch smaller than a bucket).
    private const int BatchEntries = 512;
    private const int ENOENT = 2;

    private const int AggregateKeySize = 40;
    private const int AggregateValueSize = 32;
    private const int FdKeySize = 24;
    private const int PathKeySize = 8 + KernelProgram.PathLength;
    private const int PeerSize = 24;
    private const int FramesSize = (KernelProgram.StackDepth + 1) * 8;

    private readonly Buffer[] _buffers;
    private readonly KernelControl* _control;

    // Frames by the kernel's stack hash, kept across flushes so equal stacks share one array (the attributor caches by identity).
    private readonly Dictionary<long, ulong[]> _stacks = [];
    private byte[] _keys = [];
    private byte[] _values = [];

    public KernelMaps(nint obj, KernelControl* control)
    {
        _control = control;
        _buffers = new Buffer[KernelProgram.Buffers];
        for (var n = 0; n < _buffers.Length; n++)
        {
            int Fd(string name) => Libbpf.MapFd(Libbpf.FindMap(obj, $"{name}{n}"));
            _buffers[n] = new Buffer(Fd("agg"), Fd("stacks"), Fd("targets"), Fd("opened"), Fd("peers"), Fd("path_ids"));
        }
    }

    /// <summary>The per-buffer maps, each sized <paramref name="entries"/> (before the object is loaded).</summary>
    public static void Size(nint obj, int entries)
    {
        foreach (var name in (string[])["agg", "stacks", "targets", "opened", "peers", "path_ids"])
        {
            for (var n = 0; n < KernelProgram.Buffers; n++)
            {
                Libbpf.SetMaxEntries(Libbpf.FindMap(obj, $"{name}{n}"), entries);
            }
        }
    }

    /// <summary>Reads buffer <paramref name="buffer"/> into <paramref name="flush"/> and empties it.</summary>
    public void Read(int buffer, KernelFlush flush)
    {
        var maps = _buffers[buffer];
        ReadAndDelete(maps.Aggregates, AggregateKeySize, AggregateValueSize, (key, value) =>
        {
            var context = BinaryPrimitives.ReadUInt32LittleEndian(key[12..]);
            var aggregate = flush.Aggregate(Word(key, 0), BinaryPrimitives.ReadUInt32LittleEndian(key[8..]), Word(key, 2), Word(key, 3), Word(key, 4), context);
            aggregate.Calls += Word(value, 0);
            aggregate.WallNanoseconds += Word(value, 1);
            aggregate.Bytes += Word(value, 2);
            aggregate.CpuNanoseconds += Word(value, 3);
        });

        // Reset first: a probe still writing sets it again, and the next round reads this buffer's maps again.
        if (Interlocked.Exchange(ref _control->ContextUsed[buffer], 0) != 0)
        {
            ReadAndDelete(maps.Targets, FdKeySize, KernelProgram.PathLength, (key, value) => flush.Targets[FdKey(key)] = CString(value));
            ReadAndDelete(maps.Opened, FdKeySize, 8, (key, value) => flush.OpenedPaths[FdKey(key)] = Word(value, 0));
            ReadAndDelete(maps.Peers, FdKeySize, PeerSize, (key, value) =>
            {
                fixed (byte* address = value)
                {
                    if (FdTargets.FormatSocketAddress((nint)address, value.Length) is { } peer)
                    {
                        flush.Targets[FdKey(key)] = peer;
                    }
                }
            });
            ReadAndDelete(maps.Stacks, 8, FramesSize, (key, value) => AddStack(Word(key, 0), value));
            ReadAndDelete(maps.PathIds, PathKeySize, 8, static (_, _) => { });
        }

        flush.Events += (long)Interlocked.Exchange(ref _control->Events[buffer], 0);
        foreach (var aggregate in flush.Aggregates.Values)
        {
            if (aggregate.StackHash != 0)
            {
                aggregate.Stack = _stacks.TryGetValue(aggregate.StackHash, out var frames) ? frames : [];
            }
        }
    }

    private void AddStack(long hash, ReadOnlySpan<byte> value)
    {
        if (_stacks.ContainsKey(hash))
        {
            return;
        }

        // Bounded, for a process whose code keeps changing (tiering, dynamic methods).
        if (_stacks.Count > 100_000)
        {
            _stacks.Clear();
        }

        var frames = MemoryMarshal.Cast<byte, ulong>(value);
        var count = frames.IndexOf(0UL) is var end && end >= 0 ? end : frames.Length;
        _stacks[hash] = frames[..count].ToArray();
    }

    /// <summary>Every entry of the map, removed as it is read.</summary>
    private void ReadAndDelete(int fd, int keySize, int valueSize, SpanAction entry)
    {
        if (_keys.Length < BatchEntries * keySize)
        {
            _keys = new byte[BatchEntries * keySize];
        }

        if (_values.Length < BatchEntries * valueSize)
        {
            _values = new byte[BatchEntries * valueSize];
        }

        ulong inBatch = 0, outBatch = 0;
        var first = true;
        while (true)
        {
            uint count = BatchEntries;
            int result;
            fixed (byte* keys = _keys, values = _values)
            {
                result = Libbpf.LookupAndDeleteBatch(fd, first ? null : &inBatch, &outBatch, keys, values, ref count);
            }

            for (var i = 0; i < count; i++)
            {
                entry(_keys.AsSpan(i * keySize, keySize), _values.AsSpan(i * valueSize, valueSize));
            }

            if (result == -ENOENT || (result == 0 && count == 0))
            {
                return;
            }

            if (result < 0)
            {
                throw new IOException($"reading a kernel map failed ({Marshal.GetPInvokeErrorMessage(-result)})");
            }

            inBatch = outBatch;
            first = false;
        }
    }

    private static long Word(ReadOnlySpan<byte> bytes, int index) => BinaryPrimitives.ReadInt64LittleEndian(bytes[(index * 8)..]);

    private static (long Trace, int Fd, long Generation) FdKey(ReadOnlySpan<byte> key) => (Word(key, 0), (int)Word(key, 1), Word(key, 2));

    /// <summary>The text before the first NUL.</summary>
    private static string CString(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end >= 0 ? bytes[..end] : bytes);
    }

    private delegate void SpanAction(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);

    private sealed record Buffer(int Aggregates, int Stacks, int Targets, int Opened, int Peers, int PathIds);
}
