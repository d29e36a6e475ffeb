using System.Globalization;
using System.Text.Json;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// Turns bpftrace's JSON output (<c>-f json</c>, one event per line) into flushes. Not thread-safe: one reader.
/// </summary>
internal sealed class BpftraceOutputParser
{
    // Frames by the kernel's stack hash, kept across flushes so equal stacks share one array (the attributor caches by identity).
    private readonly Dictionary<long, ulong[]> _stacks = [];
    private KernelFlush? _current;
    private int _currentBuffer = -1;

    /// <summary>
    /// Set when the process reads the kernel maps itself (<see cref="BpftraceMaps"/>): called at the end of each flush
    /// with the retired buffer's number, to fill the flush. Unset, the maps arrive printed between the flush's lines.
    /// </summary>
    public Action<int, KernelFlush, Action<long, ulong[]>>? ReadBuffer { get; set; }

    /// <summary>Raised when the program has attached and runs.</summary>
    public event Action? Ready;

    /// <summary>Raised at the end of each flush.</summary>
    public event Action<KernelFlush>? Flushed;

    /// <summary>Raised when bpftrace reports lost events: some flush markers or prints may be missing.</summary>
    public event Action<long>? Lost;

    public void Parse(string line)
    {
        if (line.Length == 0 || line[0] != '{')
        {
            return;
        }

        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        if (!root.TryGetProperty("type", out var type) || !root.TryGetProperty("data", out var data))
        {
            return;
        }

        switch (type.GetString())
        {
            case "printf":
                OnPrintf(data.GetString() ?? string.Empty);
                break;
            case "map":
            case "stats":
                if (_current is { } flush)
                {
                    foreach (var map in data.EnumerateObject())
                    {
                        OnMap(flush, map.Name, map.Value);
                    }
                }

                break;
            case "lost_events":
                Lost?.Invoke(data.TryGetProperty("events", out var events) && events.TryGetInt64(out var n) ? n : 1);
                break;
        }
    }

    private void OnPrintf(string text)
    {
        text = text.TrimEnd('\n');
        if (text == BpftraceScript.ReadyLine)
        {
            Ready?.Invoke();
        }
        else if (text.StartsWith(BpftraceScript.FlushBeginPrefix, StringComparison.Ordinal))
        {
            var fields = text[BpftraceScript.FlushBeginPrefix.Length..].Split(' ');
            _current = new KernelFlush(long.Parse(fields[0], CultureInfo.InvariantCulture), long.Parse(fields[1], CultureInfo.InvariantCulture));
            _currentBuffer = fields.Length > 2 ? int.Parse(fields[2], CultureInfo.InvariantCulture) : -1;
        }
        else if (text == BpftraceScript.FlushEndLine && _current is { } flush)
        {
            _current = null;
            if (ReadBuffer is { } read && _currentBuffer >= 0)
            {
                read(_currentBuffer, flush, AddStack);
            }

            foreach (var aggregate in flush.Aggregates.Values)
            {
                if (aggregate.StackHash != 0)
                {
                    aggregate.Stack = _stacks.TryGetValue(aggregate.StackHash, out var frames) ? frames : [];
                }
            }

            Flushed?.Invoke(flush);
        }
    }

    private void OnMap(KernelFlush flush, string name, JsonElement value)
    {
        // "@calls0" -> "calls": the buffer digit is the last character.
        var map = name.Length > 2 ? name[1..^1] : string.Empty;
        if (map == BpftraceScript.EventsMap)
        {
            flush.Events += value.ValueKind == JsonValueKind.Number ? value.GetInt64() : 0;
            return;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (map == BpftraceScript.StackMap)
        {
            foreach (var entry in value.EnumerateObject())
            {
                if (long.TryParse(entry.Name, CultureInfo.InvariantCulture, out var hash) && !_stacks.ContainsKey(hash) && entry.Value.ValueKind == JsonValueKind.Array)
                {
                    AddStack(hash, Frames(entry.Value));
                }
            }

            return;
        }

        if (map == BpftraceScript.PeerMap)
        {
            foreach (var entry in value.EnumerateObject())
            {
                var fields = entry.Name.Split(',');
                if (FdKey(fields) is { } key && entry.Value.ValueKind == JsonValueKind.Array && SocketPeer(entry.Value) is { } peer)
                {
                    flush.Targets[key] = peer;
                }
            }

            return;
        }

        if (map == BpftraceScript.OpenedPathMap)
        {
            foreach (var entry in value.EnumerateObject())
            {
                if (FdKey(entry.Name.Split(',')) is { } key && entry.Value.TryGetInt64(out var id))
                {
                    flush.OpenedPaths[key] = id;
                }
            }

            return;
        }

        if (map == BpftraceScript.TargetMap)
        {
            foreach (var entry in value.EnumerateObject())
            {
                var fields = entry.Name.Split(',');
                if (FdKey(fields) is { } key)
                {
                    flush.Targets[key] = entry.Value.GetString() ?? string.Empty;
                }
            }

            return;
        }

        var feature = Array.IndexOf(BpftraceScript.SummaryMaps, map);
        var context = false;
        if (feature < 0)
        {
            feature = Array.IndexOf(BpftraceScript.ContextMaps, map);
            context = true;
        }

        if (feature < 0)
        {
            return;
        }

        foreach (var entry in value.EnumerateObject())
        {
            if (ParseKey(flush, entry.Name, context) is not { } aggregate)
            {
                continue;
            }

            switch (feature)
            {
                case 0:
                    // stats: {"count": calls, "average": ..., "total": wall ns}
                    if (entry.Value.ValueKind == JsonValueKind.Object)
                    {
                        aggregate.Calls += entry.Value.TryGetProperty("count", out var count) ? count.GetInt64() : 0;
                        aggregate.WallNanoseconds += entry.Value.TryGetProperty("total", out var total) ? total.GetInt64() : 0;
                    }

                    break;
                case 1: aggregate.Bytes += entry.Value.GetInt64(); break;
                default: aggregate.CpuNanoseconds += entry.Value.GetInt64(); break;
            }
        }
    }

    private void AddStack(long hash, ulong[] frames)
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

        _stacks[hash] = frames;
    }

    // "trace,fd,generation"
    private static (long Trace, int Fd, long Generation)? FdKey(string[] fields) =>
        fields.Length >= 3
        && long.TryParse(fields[0], CultureInfo.InvariantCulture, out var trace)
        && int.TryParse(fields[1], CultureInfo.InvariantCulture, out var fd)
        && long.TryParse(fields[2], CultureInfo.InvariantCulture, out var generation)
            ? (trace, fd, generation)
            : null;

    // "trace,probe" or "trace,probe,fd,generation,stackhash" (bpftrace prints 64-bit values signed).
    private static KernelAggregate? ParseKey(KernelFlush flush, string key, bool context)
    {
        var fields = key.Split(',', StringSplitOptions.TrimEntries);
        if (fields.Length < (context ? 5 : 2)
            || !long.TryParse(fields[0], CultureInfo.InvariantCulture, out var trace)
            || !int.TryParse(fields[1], CultureInfo.InvariantCulture, out var probe))
        {
            return null;
        }

        var fd = -1;
        long generation = 0;
        long hash = 0;
        if (context && (!int.TryParse(fields[2], CultureInfo.InvariantCulture, out fd)
            || !long.TryParse(fields[3], CultureInfo.InvariantCulture, out generation)
            || !long.TryParse(fields[4], CultureInfo.InvariantCulture, out hash)))
        {
            return null;
        }

        return flush.Aggregate(trace, probe, fd, generation, hash, context);
    }

    /// <summary>The peer of a connect, from the first 24 bytes of its address, formatted as the in-process backend does.</summary>
    private static unsafe string? SocketPeer(JsonElement words)
    {
        Span<ulong> raw = stackalloc ulong[3];
        var i = 0;
        foreach (var item in words.EnumerateArray())
        {
            if (i == 3 || item.ValueKind != JsonValueKind.Number)
            {
                break;
            }

            raw[i++] = item.TryGetInt64(out var signed) ? unchecked((ulong)signed) : item.GetUInt64();
        }

        fixed (ulong* address = raw)
        {
            return OperatingSystem.IsLinux() ? FdTargets.FormatSocketAddress((nint)address, sizeof(ulong) * 3) : null;
        }
    }

    private static ulong[] Frames(JsonElement tuple)
    {
        var frames = new List<ulong>(tuple.GetArrayLength());
        foreach (var item in tuple.EnumerateArray())
        {
            var value = item.ValueKind == JsonValueKind.Number && item.TryGetInt64(out var signed) ? unchecked((ulong)signed)
                : item.ValueKind == JsonValueKind.Number && item.TryGetUInt64(out var unsigned) ? unsigned : 0;
            if (value == 0)
            {
                break;
            }

            frames.Add(value);
        }

        return [.. frames];
    }
}
