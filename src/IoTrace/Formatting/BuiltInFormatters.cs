using IoTrace.Core;

namespace IoTrace.Formatting;

/// <summary>
/// The seed's formatters: one table row per aggregate and feature (the seed's columns, then the fd's target),
/// or rolled up by fd or file.
/// </summary>
internal static class BuiltInFormatters
{
    private static readonly string[] s_features = ["bytes", "time", "cpu", "calls"];

    public static void Default(TextWriter stream, IoTraceReport trace) => WriteFeatures(stream, trace, s_features, sortBy: null);

    public static void Time(TextWriter stream, IoTraceReport trace) => WriteFeatures(stream, trace, ["time"], a => a.Time.Ticks);

    public static void Calls(TextWriter stream, IoTraceReport trace) => WriteFeatures(stream, trace, ["calls"], a => a.Calls);

    public static void Cpu(TextWriter stream, IoTraceReport trace) => WriteFeatures(stream, trace, ["cpu"], a => a.Cpu.Ticks);

    public static void Bytes(TextWriter stream, IoTraceReport trace) => WriteFeatures(stream, trace, ["bytes"], a => a.Bytes);

    public static void Fds(TextWriter stream, IoTraceReport trace)
    {
        var table = new TextTable(("FD", true), ("Target", false), ("Calls", true), ("Bytes", true), ("Time", true), ("CPU", true));
        var groups = trace.Aggregates
            .Where(a => a.Fd is not null)
            .GroupBy(a => (a.Fd, a.Target))
            .OrderBy(g => g.Key.Fd)
            .ThenBy(g => g.Key.Target, StringComparer.Ordinal);
        foreach (var group in groups)
        {
            AddRollUp(table, [TextTable.Number(group.Key.Fd), group.Key.Target ?? "-"], group);
        }

        table.Write(stream);
        WriteFooter(stream, trace);
    }

    public static void Files(TextWriter stream, IoTraceReport trace)
    {
        var table = new TextTable(("File", false), ("Calls", true), ("Bytes", true), ("Time", true), ("CPU", true));
        var groups = trace.Aggregates
            .GroupBy(a => a.File ?? a.Method ?? "-")
            .OrderBy(g => g.Key, StringComparer.Ordinal);
        foreach (var group in groups)
        {
            AddRollUp(table, [group.Key], group);
        }

        table.Write(stream);
        WriteFooter(stream, trace);
    }

    private static void AddRollUp(TextTable table, string[] keys, IEnumerable<IoAggregate> group)
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

        table.Add([.. keys, TextTable.Number(calls), TextTable.Number(bytes), TextTable.Milliseconds(time), TextTable.Milliseconds(cpu)]);
    }

    private static void WriteFeatures(TextWriter stream, IoTraceReport trace, string[] features, Func<IoAggregate, long>? sortBy)
    {
        var withContext = trace.Strategy != Strategy.Summary;
        var table = withContext
            ? new TextTable(("File", false), ("Line", true), ("Probe", false), ("FD", true), ("Feature", false), ("Value", false), ("Target", false))
            : new TextTable(("Probe", false), ("Feature", false), ("Value", false));
        IEnumerable<IoAggregate> aggregates = trace.Aggregates;
        if (sortBy is not null)
        {
            aggregates = aggregates.OrderByDescending(sortBy);
        }

        features = [.. features.Where(f => Measured(trace, f))];
        foreach (var a in aggregates)
        {
            foreach (var feature in features)
            {
                if (feature == "bytes" && !Transfers(a.Probe))
                {
                    continue;
                }

                var value = feature switch
                {
                    "bytes" => TextTable.Number(a.Bytes),
                    "time" => TextTable.Milliseconds(a.Time),
                    "cpu" => TextTable.Milliseconds(a.Cpu),
                    _ => TextTable.Number(a.Calls),
                };
                if (withContext)
                {
                    table.Add(a.File ?? a.Method ?? "-", TextTable.Number(a.Line), a.Probe, TextTable.Number(a.Fd), feature, value, a.Target ?? string.Empty);
                }
                else
                {
                    table.Add(a.Probe, feature, value);
                }
            }
        }

        table.Write(stream);
        WriteFooter(stream, trace);
    }

    private static bool Measured(IoTraceReport trace, string feature) => feature switch
    {
        "bytes" => trace.Features.HasFlag(IoTraceFeatures.Bytes),
        "time" => trace.Features.HasFlag(IoTraceFeatures.Time),
        "cpu" => trace.Features.HasFlag(IoTraceFeatures.Cpu),
        _ => true,
    };

    private static bool Transfers(string probe)
    {
        for (var i = 0; i < Probes.Count; i++)
        {
            if (Probes.Name(i) == probe)
            {
                return Probes.Kind(i) != ProbeKind.Setup;
            }
        }

        return true;
    }

    private static void WriteFooter(TextWriter stream, IoTraceReport trace)
    {
        stream.Write($"{TextTable.Number(trace.TotalCalls)} calls");
        if (trace.Features.HasFlag(IoTraceFeatures.Bytes))
        {
            stream.Write($", {TextTable.Number(trace.TotalBytes)} bytes");
        }

        if (trace.Features.HasFlag(IoTraceFeatures.Time))
        {
            stream.Write($", {TextTable.Milliseconds(trace.TotalTime)} in IO");
        }

        if (trace.Features.HasFlag(IoTraceFeatures.Cpu))
        {
            stream.Write($", {TextTable.Milliseconds(trace.TotalCpu)} on CPU");
        }

        stream.Write($" ({trace.Strategy}, {trace.Backend}, {TextTable.Milliseconds(trace.Elapsed)} traced)");
        stream.WriteLine(trace.IsComplete ? string.Empty : "; INCOMPLETE: the backend may have missed calls");
    }
}
