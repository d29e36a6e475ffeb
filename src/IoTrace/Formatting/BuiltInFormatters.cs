using IoTrace.Probes;

namespace IoTrace.Formatting;

/// <summary>
/// The seed's formatters: one table row per aggregate and feature (the seed's columns, then the fd's target),
/// or rolled up by fd or file.
/// </summary>
internal static class BuiltInFormatters
{
    private static readonly TextTable.Layout s_contextLayout = new(("File", false), ("Line", true), ("Probe", false), ("FD", true), ("Feature", false), ("Value", false), ("Target", false));
    private static readonly TextTable.Layout s_summaryLayout = new(("Probe", false), ("Feature", false), ("Value", false));
    private static readonly TextTable.Layout s_fdsLayout = new(("FD", true), ("Target", false), ("Calls", true), ("Bytes", true), ("Time", true), ("CPU", true));
    private static readonly TextTable.Layout s_filesLayout = new(("File", false), ("Calls", true), ("Bytes", true), ("Time", true), ("CPU", true));

    public static void Default(TextWriter stream, IoTraceReport trace) => WriteFeatures(stream, trace, Feature.All, sortBy: null);

    public static void Time(TextWriter stream, IoTraceReport trace) => WriteFeatures(stream, trace, Feature.Time, static a => a.Time.Ticks);

    public static void Calls(TextWriter stream, IoTraceReport trace) => WriteFeatures(stream, trace, Feature.Calls, static a => a.Calls);

    public static void Cpu(TextWriter stream, IoTraceReport trace) => WriteFeatures(stream, trace, Feature.Cpu, static a => a.Cpu.Ticks);

    public static void Bytes(TextWriter stream, IoTraceReport trace) => WriteFeatures(stream, trace, Feature.Bytes, static a => a.Bytes);

    public static void Wait(TextWriter stream, IoTraceReport trace) => WriteFeatures(stream, trace, Feature.Wait, static a => a.Wait.Ticks);

    public static void Fds(TextWriter stream, IoTraceReport trace)
    {
        var groups = trace.Aggregates
            .Where(a => a.Fd is not null)
            .GroupBy(a => (a.Fd, a.Target))
            .OrderBy(g => g.Key.Fd)
            .ThenBy(g => g.Key.Target, StringComparer.Ordinal)
            .Select(g => (g.Key.Fd, g.Key.Target, Totals: RollUp(g)))
            .ToList();
        var table = new TextTable(s_fdsLayout);
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var (fd, target, totals) in groups)
            {
                table.Add(TextTable.Cell.NumberOrEmpty(fd), target ?? "-", TextTable.Cell.Number(totals.Calls), TextTable.Cell.Number(totals.Bytes), TextTable.Cell.Milliseconds(totals.Time), TextTable.Cell.Milliseconds(totals.Cpu));
            }

            if (pass == 0)
            {
                table.BeginWriting(stream);
            }
        }

        WriteFooter(stream, trace);
        WriteShared(stream, trace);
    }

    public static void Files(TextWriter stream, IoTraceReport trace)
    {
        var groups = trace.Aggregates
            .GroupBy(a => a.File ?? a.Method ?? "-")
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (File: g.Key, Totals: RollUp(g)))
            .ToList();
        var table = new TextTable(s_filesLayout);
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var (file, totals) in groups)
            {
                table.Add(file, TextTable.Cell.Number(totals.Calls), TextTable.Cell.Number(totals.Bytes), TextTable.Cell.Milliseconds(totals.Time), TextTable.Cell.Milliseconds(totals.Cpu));
            }

            if (pass == 0)
            {
                table.BeginWriting(stream);
            }
        }

        WriteFooter(stream, trace);
        WriteShared(stream, trace);
    }

    private static (long Calls, long Bytes, TimeSpan Time, TimeSpan Cpu) RollUp(IEnumerable<IoAggregate> group)
    {
        long calls = 0, bytes = 0;
        TimeSpan time = default, cpu = default;
        foreach (var a in group)
        {
            calls += a.Calls;
            bytes += a.Bytes;
            time += a.Time;
            cpu += a.Cpu;
        }

        return (calls, bytes, time, cpu);
    }

    /// <summary>One row per aggregate and feature, features in the seed's order: bytes, time, cpu, calls.</summary>
    private static void WriteFeatures(TextWriter stream, IoTraceReport trace, Feature features, Func<IoAggregate, long>? sortBy)
    {
        var aggregates = sortBy is null ? trace.Aggregates : [.. trace.Aggregates.OrderByDescending(sortBy)];
        WriteRows(stream, trace, aggregates, features & Measured(trace.Features));
        WriteFooter(stream, trace);
        WriteShared(stream, trace);
    }

    /// <summary>The aggregates' rows, one per feature, under the strategy's columns.</summary>
    private static void WriteRows(TextWriter stream, IoTraceReport trace, IReadOnlyList<IoAggregate> aggregates, Feature features)
    {
        var withContext = trace.Strategy != Strategy.Summary;
        var table = new TextTable(withContext ? s_contextLayout : s_summaryLayout);
        for (var pass = 0; pass < 2; pass++)
        {
            for (var i = 0; i < aggregates.Count; i++)
            {
                AddRows(table, aggregates[i], features, withContext);
            }

            if (pass == 0)
            {
                table.BeginWriting(stream);
            }
        }
    }

    /// <summary>
    /// The calls on connections the request shared with others, made outside its flow while it used them: after the
    /// footer, for they are not the request's own nor in its totals.
    /// </summary>
    private static void WriteShared(TextWriter stream, IoTraceReport trace)
    {
        var shared = trace.SharedAggregates;
        if (shared.Count == 0)
        {
            return;
        }

        stream.WriteLine("Shared connections, their calls outside this request while it used them (not in the totals):");

        // A shared connection's calls are not timed on CPU (SharedConnection): cpu and wait are left out, never shown as 0.
        WriteRows(stream, trace, shared, Measured(trace.Features) & ~(Feature.Cpu | Feature.Wait));
    }

    private static void AddRows(TextTable table, IoAggregate a, Feature features, bool withContext)
    {
        if (!MovesBytes(a.Probe))
        {
            features &= ~Feature.Bytes;
        }

        if (IsUntimed(a.Probe))
        {
            features &= ~(Feature.Time | Feature.Cpu | Feature.Wait);
        }

        for (var feature = Feature.Bytes; feature <= Feature.Calls; feature = (Feature)((int)feature << 1))
        {
            if ((features & feature) == 0)
            {
                continue;
            }

            var value = feature switch
            {
                Feature.Bytes => TextTable.Cell.Number(a.Bytes),
                Feature.Time => TextTable.Cell.Milliseconds(a.Time),
                Feature.Cpu => TextTable.Cell.Milliseconds(a.Cpu),
                Feature.Wait => TextTable.Cell.Milliseconds(a.Wait),
                _ => TextTable.Cell.Number(a.Calls),
            };
            var name = feature switch
            {
                Feature.Bytes => "bytes",
                Feature.Time => "time",
                Feature.Cpu => "cpu",
                Feature.Wait => "wait",
                _ => "calls",
            };
            if (withContext)
            {
                table.Add(a.File ?? a.Method ?? "-", TextTable.Cell.NumberOrEmpty(a.Line), a.Probe, TextTable.Cell.NumberOrEmpty(a.Fd), name, value, a.Target);
            }
            else
            {
                table.Add(a.Probe, name, value);
            }
        }
    }

    private static Feature Measured(IoTraceFeatures features) =>
        Feature.Calls
        | (features.HasFlag(IoTraceFeatures.Bytes) ? Feature.Bytes : 0)
        | (features.HasFlag(IoTraceFeatures.Time) ? Feature.Time : 0)
        | (features.HasFlag(IoTraceFeatures.Cpu) ? Feature.Cpu : 0)
        | (features.HasFlag(IoTraceFeatures.Wait) ? Feature.Wait : 0);

    // A probe the catalog does not have (a report built by hand) may move bytes: its bytes are shown.
    private static bool MovesBytes(string probe) => !ProbeCatalog.TryIndexOf(probe, out var index) || ProbeCatalog.Has(index, ProbeTraits.MovesBytes);

    private static bool IsUntimed(string probe) => ProbeCatalog.TryIndexOf(probe, out var index) && ProbeCatalog.Has(index, ProbeTraits.Untimed);

    private static void WriteFooter(TextWriter stream, IoTraceReport trace)
    {
        TextTable.WriteNumber(stream, trace.TotalCalls);
        stream.Write(" calls");
        if (trace.Features.HasFlag(IoTraceFeatures.Bytes))
        {
            stream.Write(", ");
            TextTable.WriteNumber(stream, trace.TotalBytes);
            stream.Write(" bytes");
        }

        if (trace.Features.HasFlag(IoTraceFeatures.Time))
        {
            stream.Write(", ");
            TextTable.WriteMilliseconds(stream, trace.TotalTime);
            stream.Write(" in IO");
        }

        if (trace.Features.HasFlag(IoTraceFeatures.Cpu))
        {
            stream.Write(", ");
            TextTable.WriteMilliseconds(stream, trace.TotalCpu);
            stream.Write(" on CPU");
        }

        if (trace.Features.HasFlag(IoTraceFeatures.Wait))
        {
            stream.Write(", ");
            TextTable.WriteMilliseconds(stream, trace.TotalWait);
            stream.Write(" waiting");
        }

        stream.Write(" (");
        stream.Write(StrategyName(trace.Strategy));
        stream.Write(", ");
        stream.Write(trace.Backend);
        stream.Write(", ");
        TextTable.WriteMilliseconds(stream, trace.Elapsed);
        stream.Write(" traced)");
        stream.WriteLine(trace.IsComplete ? string.Empty : "; INCOMPLETE: the backend may have missed calls");
    }

    private static string StrategyName(Strategy strategy) => strategy switch
    {
        Strategy.Summary => nameof(Strategy.Summary),
        Strategy.Setup => nameof(Strategy.Setup),
        Strategy.Read => nameof(Strategy.Read),
        Strategy.Write => nameof(Strategy.Write),
        Strategy.All => nameof(Strategy.All),
        _ => strategy.ToString(),
    };

    /// <summary>The features a table shows, in the order of its rows.</summary>
    [Flags]
    private enum Feature
    {
        Bytes = 1,
        Time = 2,
        Cpu = 4,
        Wait = 8,
        Calls = 16,
        All = Bytes | Time | Cpu | Wait | Calls,
    }
}
