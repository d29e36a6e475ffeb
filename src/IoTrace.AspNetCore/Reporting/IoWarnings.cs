using IoTrace.Probes;

namespace IoTrace.AspNetCore.Reporting;

/// <summary>The app's IO budgets and the thresholds of its pattern warnings; 0 switches one off.</summary>
internal sealed record IoWarningThresholds(long CallBudget, long ByteBudget, int RepeatedOpens, int ChattyCalls, int ChattyBytes, int RoundTrips);

/// <summary>What a warning is about.</summary>
internal enum IoWarningKind
{
    CallBudget,
    ByteBudget,
    RepeatedOpens,
    ChattyIo,
    RoundTrips,
}

/// <summary>
/// One habit a request's IO shows: <paramref name="Spent"/> against <paramref name="Limit"/> (calls, or bytes for the byte
/// budget), on <paramref name="Target"/> where the habit is about one, and the line that spent most of it.
/// </summary>
internal readonly record struct IoWarning(IoWarningKind Kind, long Spent, long Limit, string? Target, string? Location, long AverageBytes = 0);

/// <summary>
/// Finds what a request's report says about its IO habits: over its budget, the same file opened again and again, many
/// small calls on one file or socket, many round trips to one peer. Each warning names the line that did most of it.
/// Reads only the report, so it sees what the log shows, redaction included.
/// </summary>
internal static class IoWarnings
{
    /// <summary>The report's warnings, or <see langword="null"/> when it has none (most requests: nothing allocated).</summary>
    public static List<IoWarning>? Find(IoTraceReport report, IoWarningThresholds thresholds, IoTraceAttribute? endpoint)
    {
        List<IoWarning>? warnings = null;
        var rows = report.Aggregates;
        var callBudget = endpoint is { CallBudget: > 0 } ? endpoint.CallBudget : thresholds.CallBudget;
        if (callBudget > 0 && report.TotalCalls > callBudget)
        {
            (warnings ??= []).Add(new IoWarning(IoWarningKind.CallBudget, report.TotalCalls, callBudget, null, MostAt(rows, static r => r.Calls)));
        }

        var byteBudget = endpoint is { ByteBudget: > 0 } ? endpoint.ByteBudget : thresholds.ByteBudget;
        if (byteBudget > 0 && report.TotalBytes > byteBudget)
        {
            (warnings ??= []).Add(new IoWarning(IoWarningKind.ByteBudget, report.TotalBytes, byteBudget, null, MostAt(rows, static r => r.Bytes)));
        }

        // The habits need targets, which a Summary report has not. A habit's calls on one target are at most its calls on
        // all of them, so a habit whose total is under its threshold is not looked at per target: on most requests, none is.
        if (report.Strategy == Strategy.Summary)
        {
            return warnings;
        }

        var (opens, moves, socketWrites) = HabitTotals(rows);
        if (thresholds.RepeatedOpens > 0 && opens >= thresholds.RepeatedOpens)
        {
            (warnings ??= []).AddRange(Worst(rows.Where(IsFileOpen), thresholds.RepeatedOpens, IoWarningKind.RepeatedOpens));
        }

        if (thresholds.ChattyCalls > 0 && moves >= thresholds.ChattyCalls)
        {
            foreach (var target in rows.Where(MovesBytes).GroupBy(static r => r.Target))
            {
                var calls = target.Sum(static r => r.Calls);
                var average = calls == 0 ? 0 : target.Sum(static r => r.Bytes) / calls;
                if (calls >= thresholds.ChattyCalls && average < thresholds.ChattyBytes)
                {
                    (warnings ??= []).Add(new IoWarning(IoWarningKind.ChattyIo, calls, thresholds.ChattyCalls, target.Key, MostAt([.. target], static r => r.Calls), average));
                }
            }
        }

        if (thresholds.RoundTrips > 0 && socketWrites >= thresholds.RoundTrips)
        {
            (warnings ??= []).AddRange(Worst(rows.Where(IsSocketWrite), thresholds.RoundTrips, IoWarningKind.RoundTrips));
        }

        return warnings is { Count: > 0 } ? warnings : null;
    }

    private static (long Opens, long Moves, long SocketWrites) HabitTotals(IReadOnlyList<IoAggregate> rows)
    {
        long opens = 0, moves = 0, socketWrites = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            opens += IsFileOpen(row) ? row.Calls : 0;
            moves += MovesBytes(row) ? row.Calls : 0;
            socketWrites += IsSocketWrite(row) ? row.Calls : 0;
        }

        return (opens, moves, socketWrites);
    }

    private static bool IsFileOpen(IoAggregate row) => row.Probe is "openat" or "open" && row.TargetKind == IoTargetKind.File;

    private static bool MovesBytes(IoAggregate row) =>
        row.TargetKind != IoTargetKind.Other && ProbeCatalog.TryGetKind(row.Probe, out var kind) && kind != ProbeKind.Setup;

    private static bool IsSocketWrite(IoAggregate row) =>
        row.TargetKind == IoTargetKind.Socket && ProbeCatalog.TryGetKind(row.Probe, out var kind) && kind == ProbeKind.Write;

    /// <summary>Per target, the calls of <paramref name="rows"/> at or over <paramref name="threshold"/>.</summary>
    private static IEnumerable<IoWarning> Worst(IEnumerable<IoAggregate> rows, int threshold, IoWarningKind kind) =>
        rows.GroupBy(static r => r.Target)
            .Select(g => (Target: g.Key, Rows: g.ToList(), Calls: g.Sum(static r => r.Calls)))
            .Where(g => g.Calls >= threshold)
            .OrderByDescending(static g => g.Calls)
            .Select(g => new IoWarning(kind, g.Calls, threshold, g.Target, MostAt(g.Rows, static r => r.Calls)));

    /// <summary>The source line (or, without lines, the probe) that spent the most of <paramref name="measure"/>.</summary>
    private static string? MostAt(IReadOnlyList<IoAggregate> rows, Func<IoAggregate, long> measure) =>
        rows.Count == 0 ? null : rows.GroupBy(static r => r.Location ?? r.Probe).MaxBy(g => g.Sum(measure))!.Key;
}
