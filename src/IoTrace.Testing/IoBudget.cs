using System.Globalization;
using System.Text;

namespace IoTrace.Testing;

/// <summary>
/// An IO budget for a request or a traced block: limits on calls and bytes, in all and per probe, source line and
/// target kind. <see cref="Check"/> throws <see cref="IoBudgetExceededException"/> naming every limit a report goes
/// over and the line that spent most of it, with the report's table: the test that caught a request doing 40 reads where
/// it did 4 says where they come from.
/// </summary>
/// <example>
/// <code>
/// var record = await collector.WaitForRecordAsync("/orders/42");
/// new IoBudget().MaxCalls(10).MaxCalls("pread64", 2).MaxCalls(IoTargetKind.Socket, 4).Check(record.Report);
/// </code>
/// </example>
public sealed class IoBudget
{
    private readonly List<Limit> _limits = [];

    /// <summary>At most <paramref name="calls"/> calls in all.</summary>
    /// <param name="calls">The limit.</param>
    /// <returns>This budget, for chaining.</returns>
    public IoBudget MaxCalls(long calls) => Add("calls", static _ => true, Measure.Calls, calls);

    /// <summary>At most <paramref name="bytes"/> bytes read and written in all.</summary>
    /// <param name="bytes">The limit.</param>
    /// <returns>This budget, for chaining.</returns>
    public IoBudget MaxBytes(long bytes) => Add("bytes", static _ => true, Measure.Bytes, bytes);

    /// <summary>At most <paramref name="calls"/> calls of one probe (<c>pread64</c>, <c>sendto</c>, as strace names them).</summary>
    /// <param name="probe">The probe.</param>
    /// <param name="calls">The limit.</param>
    /// <returns>This budget, for chaining.</returns>
    public IoBudget MaxCalls(string probe, long calls)
    {
        ArgumentException.ThrowIfNullOrEmpty(probe);
        return Add($"{probe} calls", a => a.Probe == probe, Measure.Calls, calls);
    }

    /// <summary>At most <paramref name="bytes"/> bytes moved by one probe.</summary>
    /// <param name="probe">The probe.</param>
    /// <param name="bytes">The limit.</param>
    /// <returns>This budget, for chaining.</returns>
    public IoBudget MaxBytes(string probe, long bytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(probe);
        return Add($"{probe} bytes", a => a.Probe == probe, Measure.Bytes, bytes);
    }

    /// <summary>At most <paramref name="calls"/> calls on one kind of target (files, sockets).</summary>
    /// <param name="kind">The kind of target.</param>
    /// <param name="calls">The limit.</param>
    /// <returns>This budget, for chaining.</returns>
    public IoBudget MaxCalls(IoTargetKind kind, long calls) => Add($"{Name(kind)} calls", a => a.TargetKind == kind, Measure.Calls, calls);

    /// <summary>At most <paramref name="bytes"/> bytes moved on one kind of target.</summary>
    /// <param name="kind">The kind of target.</param>
    /// <param name="bytes">The limit.</param>
    /// <returns>This budget, for chaining.</returns>
    public IoBudget MaxBytes(IoTargetKind kind, long bytes) => Add($"{Name(kind)} bytes", a => a.TargetKind == kind, Measure.Bytes, bytes);

    /// <summary>
    /// At most <paramref name="calls"/> calls made from one source line: <paramref name="file"/> is the file's name or
    /// the end of its path (<c>OrdersController.cs</c>, <c>Data/OrdersController.cs</c>).
    /// </summary>
    /// <param name="file">The source file.</param>
    /// <param name="line">The line.</param>
    /// <param name="calls">The limit.</param>
    /// <returns>This budget, for chaining.</returns>
    public IoBudget MaxCallsAt(string file, int line, long calls)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        return Add($"calls at {file}:{line}", a => a.Line == line && IsFile(a.File, file), Measure.Calls, calls);
    }

    /// <summary>Every limit <paramref name="report"/> goes over, as the failure message says it; empty when it stays within.</summary>
    /// <param name="report">A request's or a block's report.</param>
    /// <returns>The limits exceeded.</returns>
    public IReadOnlyList<string> Exceeded(IoTraceReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var exceeded = new List<string>();
        if (!report.IsComplete)
        {
            exceeded.Add("the report is incomplete (the backend may have missed calls), so staying within the budget proves nothing");
        }

        foreach (var limit in _limits)
        {
            var rows = report.Aggregates.Where(limit.Applies).ToList();
            var spent = rows.Sum(r => limit.Of(r));
            if (spent > limit.Max)
            {
                exceeded.Add(string.Create(CultureInfo.InvariantCulture, $"{limit.Name}: {spent} > {limit.Max}{MostFrom(rows, limit)}"));
            }
        }

        return exceeded;
    }

    /// <summary>Checks <paramref name="report"/> against every limit.</summary>
    /// <param name="report">A request's or a block's report.</param>
    /// <exception cref="IoBudgetExceededException">The report goes over a limit, or is incomplete.</exception>
    public void Check(IoTraceReport report)
    {
        var exceeded = Exceeded(report);
        if (exceeded.Count > 0)
        {
            throw new IoBudgetExceededException(exceeded, report, Message(exceeded, report));
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        _limits.Count == 0 ? "no limits" : string.Join(", ", _limits.Select(l => string.Create(CultureInfo.InvariantCulture, $"{l.Name} <= {l.Max}")));

    private IoBudget Add(string name, Func<IoAggregate, bool> applies, Measure measure, long max)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        _limits.Add(new Limit(name, applies, measure, max));
        return this;
    }

    /// <summary>"; most at Program.cs:31 (8 calls)": the source line (or, without lines, the probe) that spent most.</summary>
    private static string MostFrom(List<IoAggregate> rows, Limit limit)
    {
        var most = rows.GroupBy(r => r.Location ?? r.Probe).Select(g => (Where: g.Key, Spent: g.Sum(r => limit.Of(r)))).MaxBy(g => g.Spent);
        var unit = limit.Measure == Measure.Calls ? "calls" : "bytes";
        return most.Where is null ? string.Empty : string.Create(CultureInfo.InvariantCulture, $"; most at {most.Where} ({most.Spent} {unit})");
    }

    private static string Message(IReadOnlyList<string> exceeded, IoTraceReport report)
    {
        var text = new StringBuilder("The IO budget was exceeded:").AppendLine();
        foreach (var line in exceeded)
        {
            text.Append("  ").AppendLine(line);
        }

        text.AppendLine().Append(report.ToString(IoTraceFormatters.DefaultName));
        return text.ToString();
    }

    private static bool IsFile(string? path, string file) =>
        path is not null && (path == file || path.EndsWith("/" + file, StringComparison.Ordinal) || path.EndsWith("\\" + file, StringComparison.Ordinal));

    private static string Name(IoTargetKind kind) => kind switch
    {
        IoTargetKind.File => "file",
        IoTargetKind.Socket => "socket",
        _ => "other",
    };

    private enum Measure
    {
        Calls,
        Bytes,
    }

    private sealed record Limit(string Name, Func<IoAggregate, bool> Applies, Measure Measure, long Max)
    {
        public long Of(IoAggregate row) => Measure == Measure.Calls ? row.Calls : row.Bytes;
    }
}
