using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using IoTrace.Backends.InProcess;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// bpftrace's aggregate maps, read and emptied by the process itself at each flush: one batch system call per map
/// and a few hundred entries, instead of bpftrace printing every entry as JSON for the process to parse, which was
/// most of bpftrace's CPU under load. The maps are bpftrace's own, taken from it through a pidfd once its program
/// runs. Their layout is bpftrace's, checked when they are opened: every key field 8 bytes; <c>count</c> and
/// <c>sum</c> one value per CPU; <c>stats</c> two entries per key (the key, then 0 for the count or 1 for the total).
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class BpftraceMaps : IDisposable
{
    // Entries per batch call: more than any hash bucket holds (the kernel refuses a batch smaller than a bucket).
    private const int BatchEntries = 512;

    private const int BPF_MAP_LOOKUP_ELEM = 1;
    private const int BPF_MAP_UPDATE_ELEM = 2;
    private const int BPF_OBJ_GET_INFO_BY_FD = 15;
    private const int BPF_MAP_LOOKUP_AND_DELETE_BATCH = 25;
    private const int BPF_MAP_TYPE_HASH = 1;
    private const int BPF_MAP_TYPE_PERCPU_HASH = 5;
    private const int BPF_MAP_TYPE_PERCPU_ARRAY = 6;
    private const int ENOENT = 2;
    private const int StatsCount = 0;

    private readonly Dictionary<string, Map> _maps;
    private readonly int _cpus;
    private byte[] _keys = [];
    private byte[] _values = [];

    private BpftraceMaps(Dictionary<string, Map> maps, int cpus)
    {
        _maps = maps;
        _cpus = cpus;
    }

    /// <summary>Takes the maps of the bpftrace process <paramref name="bpftracePid"/>; throws, with the reason, when it cannot.</summary>
    /// <param name="bpftracePid">The bpftrace child, its program attached.</param>
    /// <param name="pathLength">bpftrace's string length (BPFTRACE_STRLEN): the size of a path value.</param>
    public static BpftraceMaps Open(int bpftracePid, int pathLength)
    {
        var cpus = PossibleCpus();
        var expected = Expected(pathLength);
        var maps = new Dictionary<string, Map>(StringComparer.Ordinal);
        var pidfd = LibcInterop.PidfdOpen(bpftracePid, 0);
        if (pidfd < 0)
        {
            throw new IOException($"pidfd_open of bpftrace failed ({Marshal.GetLastPInvokeErrorMessage()})");
        }

        try
        {
            foreach (var info in Directory.EnumerateFiles($"/proc/{bpftracePid}/fdinfo"))
            {
                if (!int.TryParse(Path.GetFileName(info), CultureInfo.InvariantCulture, out var targetFd) || !IsMap(info))
                {
                    continue;
                }

                var fd = LibcInterop.PidfdGetfd(pidfd, targetFd, 0);
                if (fd < 0)
                {
                    throw new IOException($"pidfd_getfd of bpftrace's map failed ({Marshal.GetLastPInvokeErrorMessage()})");
                }

                var map = Describe(fd);
                if (map.Name.StartsWith("AT_", StringComparison.Ordinal) && expected.ContainsKey(map.Name[3..]) && !maps.ContainsKey(map.Name[3..]))
                {
                    maps[map.Name[3..]] = map;
                }
                else
                {
                    _ = LibcInterop.Close(fd);
                }
            }
        }
        catch
        {
            Close(maps);
            throw;
        }
        finally
        {
            _ = LibcInterop.Close(pidfd);
        }

        foreach (var (name, (type, keySize, valueSize)) in expected)
        {
            if (!maps.TryGetValue(name, out var map))
            {
                Close(maps);
                throw new InvalidOperationException($"bpftrace has no map @{name}");
            }

            if (map.Type != type || map.KeySize != keySize || map.ValueSize != valueSize)
            {
                Close(maps);
                throw new InvalidOperationException(
                    $"bpftrace's map @{name} is not laid out as expected (type {map.Type}, key {map.KeySize} B, value {map.ValueSize} B; expected {type}, {keySize} B, {valueSize} B)");
            }
        }

        return new BpftraceMaps(maps, cpus);
    }

    /// <summary>
    /// Reads buffer <paramref name="buffer"/> into <paramref name="flush"/> and empties it, as bpftrace's print and clear
    /// did: the summary maps, then the context maps if a trace with context wrote there, then the event count last,
    /// so a call still being written shows as an event without its aggregate (reported lost) rather than the reverse.
    /// </summary>
    public void Read(int buffer, KernelFlush flush, Action<long, ulong[]> stack)
    {
        var n = buffer.ToString(CultureInfo.InvariantCulture);
        ReadAggregates(BpftraceScript.CallsMap + n, flush, context: false, Feature.CallsAndWall);
        ReadAggregates(BpftraceScript.BytesMap + n, flush, context: false, Feature.Bytes);
        ReadAggregates(BpftraceScript.CpuMap + n, flush, context: false, Feature.Cpu);

        var used = _maps[BpftraceScript.ContextUsedMap + n];
        if (LookupScalar(used) != 0)
        {
            // Reset first: a probe still writing sets it again, and the next round reads this buffer's maps again.
            UpdateScalar(used, 0);
            ReadAggregates(BpftraceScript.ContextCallsMap + n, flush, context: true, Feature.CallsAndWall);
            ReadAggregates(BpftraceScript.ContextBytesMap + n, flush, context: true, Feature.Bytes);
            ReadAggregates(BpftraceScript.ContextCpuMap + n, flush, context: true, Feature.Cpu);
            ReadAndDelete(_maps[BpftraceScript.TargetMap + n], (key, value) => flush.Targets[FdKey(key)] = CString(value, Encoding.UTF8));
            ReadAndDelete(_maps[BpftraceScript.OpenedPathMap + n], (key, value) => flush.OpenedPaths[FdKey(key)] = Word(value, 0));
            ReadAndDelete(_maps[BpftraceScript.PeerMap + n], (key, value) =>
            {
                fixed (byte* address = value)
                {
                    if (FdTargets.FormatSocketAddress((nint)address, value.Length) is { } peer)
                    {
                        flush.Targets[FdKey(key)] = peer;
                    }
                }
            });
            ReadAndDelete(_maps[BpftraceScript.StackMap + n], (key, value) => stack(Word(key, 0), Frames(value)));
            ReadAndDelete(_maps[BpftraceScript.StackSeenMap + n], static (_, _) => { });
            ReadAndDelete(_maps[BpftraceScript.PathIdMap + n], static (_, _) => { });
        }

        flush.Events += TakeCount(_maps[BpftraceScript.EventsMap + n]);
    }

    public void Dispose() => Close(_maps);

    private enum Feature
    {
        CallsAndWall,
        Bytes,
        Cpu,
    }

    private void ReadAggregates(string name, KernelFlush flush, bool context, Feature feature)
    {
        var map = _maps[name];
        ReadAndDelete(map, (key, values) =>
        {
            var total = 0L;
            for (var cpu = 0; cpu < _cpus; cpu++)
            {
                total += BinaryPrimitives.ReadInt64LittleEndian(values[(cpu * 8)..]);
            }

            var aggregate = flush.Aggregate(Word(key, 0), Word(key, 1), context ? Word(key, 2) : -1, context ? Word(key, 3) : 0, context ? Word(key, 4) : 0, context);
            switch (feature)
            {
                case Feature.CallsAndWall when Word(key, context ? 5 : 2) == StatsCount:
                    aggregate.Calls += total;
                    break;
                case Feature.CallsAndWall:
                    aggregate.WallNanoseconds += total;
                    break;
                case Feature.Bytes:
                    aggregate.Bytes += total;
                    break;
                default:
                    aggregate.CpuNanoseconds += total;
                    break;
            }
        });
    }

    /// <summary>Every entry of <paramref name="map"/>, removed as it is read: the key, then the value (one per CPU, 8-byte aligned, for per-CPU maps).</summary>
    private void ReadAndDelete(Map map, SpanAction entry)
    {
        var stride = map.Type == BPF_MAP_TYPE_PERCPU_HASH ? ((map.ValueSize + 7) & ~7) * _cpus : map.ValueSize;
        if (_keys.Length < BatchEntries * map.KeySize)
        {
            _keys = new byte[BatchEntries * map.KeySize];
        }

        if (_values.Length < BatchEntries * stride)
        {
            _values = new byte[BatchEntries * stride];
        }

        ulong inBatch = 0, outBatch = 0;
        var first = true;
        var attr = stackalloc ulong[7];
        while (true)
        {
            new Span<ulong>(attr, 7).Clear();
            uint count;
            long result;
            int errno;
            fixed (byte* keys = _keys, values = _values)
            {
                attr[0] = first ? 0 : (ulong)&inBatch;
                attr[1] = (ulong)&outBatch;
                attr[2] = (ulong)keys;
                attr[3] = (ulong)values;
                ((uint*)attr)[8] = BatchEntries;
                ((uint*)attr)[9] = (uint)map.Fd;
                result = LibcInterop.Syscall(LibcInterop.SYS_bpf, BPF_MAP_LOOKUP_AND_DELETE_BATCH, (nint)attr, sizeof(ulong) * 7);
                errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
                count = ((uint*)attr)[8];
            }

            for (var i = 0; i < count; i++)
            {
                entry(_keys.AsSpan(i * map.KeySize, map.KeySize), _values.AsSpan(i * stride, stride));
            }

            if (errno == ENOENT || (result == 0 && count == 0))
            {
                return;
            }

            if (result < 0)
            {
                throw new IOException($"reading bpftrace's map {map.Name} failed (errno {errno})");
            }

            inBatch = outBatch;
            first = false;
        }
    }

    private long LookupScalar(Map map)
    {
        ulong key = 0, value = 0;
        var attr = stackalloc ulong[4];
        attr[0] = (uint)map.Fd;
        attr[1] = (ulong)&key;
        attr[2] = (ulong)&value;
        attr[3] = 0;
        var result = LibcInterop.Syscall(LibcInterop.SYS_bpf, BPF_MAP_LOOKUP_ELEM, (nint)attr, sizeof(ulong) * 4);
        return result < 0 ? 0 : (long)value;
    }

    private void UpdateScalar(Map map, long value)
    {
        ulong key = 0;
        var attr = stackalloc ulong[4];
        attr[0] = (uint)map.Fd;
        attr[1] = (ulong)&key;
        attr[2] = (ulong)&value;
        attr[3] = 0;
        _ = LibcInterop.Syscall(LibcInterop.SYS_bpf, BPF_MAP_UPDATE_ELEM, (nint)attr, sizeof(ulong) * 4);
    }

    /// <summary>A per-CPU count's total, set back to zero (an array entry cannot be deleted).</summary>
    private long TakeCount(Map map)
    {
        uint key = 0;
        var values = stackalloc long[_cpus];
        var attr = stackalloc ulong[4];
        attr[0] = (uint)map.Fd;
        attr[1] = (ulong)&key;
        attr[2] = (ulong)values;
        attr[3] = 0;
        if (LibcInterop.Syscall(LibcInterop.SYS_bpf, BPF_MAP_LOOKUP_ELEM, (nint)attr, sizeof(ulong) * 4) < 0)
        {
            return 0;
        }

        var total = 0L;
        for (var cpu = 0; cpu < _cpus; cpu++)
        {
            total += values[cpu];
            values[cpu] = 0;
        }

        _ = LibcInterop.Syscall(LibcInterop.SYS_bpf, BPF_MAP_UPDATE_ELEM, (nint)attr, sizeof(ulong) * 4);
        return total;
    }

    private static long Word(ReadOnlySpan<byte> key, int index) => BinaryPrimitives.ReadInt64LittleEndian(key[(index * 8)..]);

    private static (long Trace, int Fd, long Generation) FdKey(ReadOnlySpan<byte> key) => (Word(key, 0), (int)Word(key, 1), Word(key, 2));

    private static ulong[] Frames(ReadOnlySpan<byte> value)
    {
        var frames = MemoryMarshal.Cast<byte, ulong>(value);
        var count = frames.IndexOf(0UL) is var end && end >= 0 ? end : frames.Length;
        return frames[..count].ToArray();
    }

    /// <summary>The maps the flush reads, per buffer: bpftrace's map type, key and value sizes.</summary>
    private static Dictionary<string, (int Type, int KeySize, int ValueSize)> Expected(int pathLength)
    {
        var expected = new Dictionary<string, (int, int, int)>(StringComparer.Ordinal);
        for (var n = 0; n < 3; n++)
        {
            expected[$"{BpftraceScript.CallsMap}{n}"] = (BPF_MAP_TYPE_PERCPU_HASH, 24, 8);
            expected[$"{BpftraceScript.BytesMap}{n}"] = (BPF_MAP_TYPE_PERCPU_HASH, 16, 8);
            expected[$"{BpftraceScript.CpuMap}{n}"] = (BPF_MAP_TYPE_PERCPU_HASH, 16, 8);
            expected[$"{BpftraceScript.ContextCallsMap}{n}"] = (BPF_MAP_TYPE_PERCPU_HASH, 48, 8);
            expected[$"{BpftraceScript.ContextBytesMap}{n}"] = (BPF_MAP_TYPE_PERCPU_HASH, 40, 8);
            expected[$"{BpftraceScript.ContextCpuMap}{n}"] = (BPF_MAP_TYPE_PERCPU_HASH, 40, 8);
            expected[$"{BpftraceScript.TargetMap}{n}"] = (BPF_MAP_TYPE_HASH, 24, pathLength);
            expected[$"{BpftraceScript.OpenedPathMap}{n}"] = (BPF_MAP_TYPE_HASH, 24, 8);
            expected[$"{BpftraceScript.PeerMap}{n}"] = (BPF_MAP_TYPE_HASH, 24, 24);
            expected[$"{BpftraceScript.StackMap}{n}"] = (BPF_MAP_TYPE_HASH, 8, (BpftraceScript.StackDepth + 1) * 8);
            expected[$"{BpftraceScript.StackSeenMap}{n}"] = (BPF_MAP_TYPE_HASH, 8, 8);
            expected[$"{BpftraceScript.PathIdMap}{n}"] = (BPF_MAP_TYPE_HASH, 8 + pathLength, 8);
            expected[$"{BpftraceScript.ContextUsedMap}{n}"] = (BPF_MAP_TYPE_HASH, 8, 8);
            expected[$"{BpftraceScript.EventsMap}{n}"] = (BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8);
        }

        return expected;
    }

    private static bool IsMap(string fdinfo)
    {
        try
        {
            return File.ReadLines(fdinfo).Any(l => l.StartsWith("map_type:", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static Map Describe(int fd)
    {
        // struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags (u32 each), then char name[16].
        var info = stackalloc byte[80];
        new Span<byte>(info, 80).Clear();
        var attr = stackalloc ulong[2];
        ((uint*)attr)[0] = (uint)fd;
        ((uint*)attr)[1] = 80;
        attr[1] = (ulong)info;
        if (LibcInterop.Syscall(LibcInterop.SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, (nint)attr, sizeof(ulong) * 2) < 0)
        {
            var error = Marshal.GetLastPInvokeErrorMessage();
            _ = LibcInterop.Close(fd);
            throw new IOException($"reading a bpftrace map's description failed ({error})");
        }

        var fields = (uint*)info;
        return new Map(fd, CString(new ReadOnlySpan<byte>(info + 24, 16), Encoding.ASCII), (int)fields[0], (int)fields[2], (int)fields[3]);
    }

    /// <summary>The text before the first NUL (bpftrace pads strings with NULs to their full length).</summary>
    private static string CString(ReadOnlySpan<byte> bytes, Encoding encoding)
    {
        var end = bytes.IndexOf((byte)0);
        return encoding.GetString(end >= 0 ? bytes[..end] : bytes);
    }

    /// <summary>The CPUs the kernel sizes per-CPU values for: all possible ones, not only those online.</summary>
    private static int PossibleCpus()
    {
        var text = File.ReadAllText("/sys/devices/system/cpu/possible").Trim();
        var count = 0;
        foreach (var range in text.Split(','))
        {
            var bounds = range.Split('-');
            var low = int.Parse(bounds[0], CultureInfo.InvariantCulture);
            var high = bounds.Length > 1 ? int.Parse(bounds[1], CultureInfo.InvariantCulture) : low;
            count = Math.Max(count, high + 1);
        }

        return count;
    }

    private static void Close(Dictionary<string, Map> maps)
    {
        foreach (var map in maps.Values)
        {
            _ = LibcInterop.Close(map.Fd);
        }

        maps.Clear();
    }

    private delegate void SpanAction(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value);

    private sealed record Map(int Fd, string Name, int Type, int KeySize, int ValueSize);
}
