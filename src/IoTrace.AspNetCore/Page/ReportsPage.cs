using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using IoTrace.AspNetCore.Reporting;

namespace IoTrace.AspNetCore.Page;

/// <summary>
/// Renders the last traced requests as one self-contained HTML page: per request its lines, with bars for the time and
/// the bytes of each, and a filter by route and strategy. No external script, style or font: the page works offline
/// and loads nothing from anywhere. It shows what the log shows, as the log shows it (redaction applied).
/// </summary>
internal static class ReportsPage
{
    private const string Style = """
        body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1f24; }
        h1 { font-size: 1.3em; } h2 { font-size: 1em; margin: 1.6em 0 .4em; }
        .meta { color: #57606a; font-weight: normal; }
        table { border-collapse: collapse; width: 100%; table-layout: fixed; }
        th:nth-child(1) { width: 17%; } th:nth-child(2) { width: 21%; } th:nth-child(3) { width: 5%; }
        th:nth-child(4), th:nth-child(5) { width: 13%; }
        th, td { text-align: left; padding: .2em .6em; border-bottom: 1px solid #d0d7de; vertical-align: top; }
        td { overflow-wrap: anywhere; }
        th:nth-child(n+3):nth-child(-n+5), td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        .bar { height: .7em; display: inline-block; vertical-align: middle; margin-right: .4em; }
        .time { background: #0969da; } .bytes { background: #bf8700; }
        .filters select { margin-right: 1em; }
        .incomplete { color: #cf222e; }
        .shared { color: #57606a; }
        """;

    private const string Script = """
        const route = document.getElementById('route'), strategy = document.getElementById('strategy');
        function filter() {
          for (const section of document.querySelectorAll('section.request')) {
            section.hidden = (route.value && section.dataset.route !== route.value) || (strategy.value && section.dataset.strategy !== strategy.value);
          }
        }
        route.addEventListener('change', filter);
        strategy.addEventListener('change', filter);
        // ?route=...&strategy=...: a filtered view has a link of its own.
        const query = new URLSearchParams(location.search);
        route.value = query.get('route') ?? '';
        strategy.value = query.get('strategy') ?? '';
        filter();
        """;

    public static string Render((DateTimeOffset At, TracedRequest Request)[] requests)
    {
        var html = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>IoTrace: last requests</title><style>")
            .Append(Style).Append("</style></head><body>\n<h1>IoTrace: the last ")
            .Append(requests.Length.ToString(CultureInfo.InvariantCulture)).Append(" traced requests</h1>\n<div class=\"filters\">");
        Select(html, "route", "Route", requests.Select(r => RouteOf(r.Request)));
        Select(html, "strategy", "Strategy", requests.Select(r => r.Request.Report.Strategy.ToString()));
        html.Append("</div>\n");
        foreach (var (at, request) in requests)
        {
            Request(html, at, request);
        }

        return html.Append("<script>").Append(Script).Append("</script>\n</body></html>\n").ToString();
    }

    private static void Request(StringBuilder html, DateTimeOffset at, TracedRequest request)
    {
        var report = request.Report;
        html.Append("<section class=\"request\" data-route=\"").Append(Encode(RouteOf(request))).Append("\" data-strategy=\"").Append(report.Strategy).Append("\">")
            .Append("<h2>").Append(Encode(request.Method)).Append(' ').Append(Encode(request.Path))
            .Append(" <span class=\"meta\">").Append(request.StatusCode.ToString(CultureInfo.InvariantCulture)).Append(" · ")
            .Append(report.Strategy).Append(", ").Append(Encode(report.Backend)).Append(" · ")
            .Append(Invariant($"{report.TotalCalls} calls, {report.TotalBytes} B, {report.TotalTime.TotalMilliseconds:0.###} ms in IO, {report.Elapsed.TotalMilliseconds:0.###} ms traced"))
            .Append(" · ").Append(at.ToString("HH:mm:ss", CultureInfo.InvariantCulture)).Append(" UTC</span>");
        if (!report.IsComplete)
        {
            html.Append(" <span class=\"incomplete\">incomplete: the backend may have missed calls</span>");
        }

        html.Append("</h2>\n<table><thead><tr><th>Line</th><th>Probes</th><th>Calls</th><th>Bytes</th><th>Time</th><th>Targets</th></tr></thead><tbody>\n");
        var lines = report.Aggregates
            .GroupBy(a => a.Location ?? "-")
            .Select(g => (Location: g.Key, Rows: g.ToList(), Calls: g.Sum(a => a.Calls), Bytes: g.Sum(a => a.Bytes), Time: g.Sum(a => a.Time.TotalMilliseconds)))
            .OrderByDescending(l => l.Time)
            .ThenByDescending(l => l.Calls)
            .ToList();
        var maxTime = lines.Count == 0 ? 0 : lines.Max(l => l.Time);
        var maxBytes = lines.Count == 0 ? 0 : lines.Max(l => l.Bytes);
        foreach (var line in lines)
        {
            html.Append("<tr><td>").Append(Encode(line.Location)).Append("</td><td>")
                .Append(Encode(string.Join(", ", line.Rows.GroupBy(r => r.Probe).Select(p => Invariant($"{p.Key} {p.Sum(r => r.Calls)}")))))
                .Append("</td><td class=\"n\">").Append(line.Calls.ToString(CultureInfo.InvariantCulture))
                .Append("</td><td class=\"n\">").Append(Bar("bytes", line.Bytes, maxBytes)).Append(line.Bytes.ToString(CultureInfo.InvariantCulture))
                .Append("</td><td class=\"n\">").Append(Bar("time", line.Time, maxTime)).Append(Invariant($"{line.Time:0.###} ms"))
                .Append("</td><td>").Append(Encode(string.Join(", ", line.Rows.Select(r => r.Target).OfType<string>().Distinct().Take(3))))
                .Append("</td></tr>\n");
        }

        html.Append("</tbody></table>");
        if (report.SharedAggregates.Count > 0)
        {
            // The connections the request shared with others: not its own calls, so after its table and in no total.
            html.Append("<p class=\"shared\">Shared connections, their calls outside this request while it used them (not in the totals): ")
                .Append(Encode(string.Join("; ", report.SharedAggregates.GroupBy(a => a.Target ?? "-").Select(g =>
                    $"{g.Key} {string.Join(", ", g.Select(a => Invariant($"{a.Probe} {a.Calls} ({a.Bytes} B)")))}"))))
                .Append("</p>");
        }

        html.Append("</section>\n");
    }

    /// <summary>A bar as wide as <paramref name="value"/> is of <paramref name="max"/>, at most 6em.</summary>
    private static string Bar(string kind, double value, double max) =>
        max <= 0 ? string.Empty : Invariant($"<span class=\"bar {kind}\" style=\"width:{6 * value / max:0.##}em\"></span>");

    private static void Select(StringBuilder html, string id, string label, IEnumerable<string> values)
    {
        html.Append("<label>").Append(label).Append(" <select id=\"").Append(id).Append("\"><option value=\"\">all</option>");
        foreach (var value in values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            html.Append("<option>").Append(Encode(value)).Append("</option>");
        }

        html.Append("</select></label>");
    }

    private static string RouteOf(TracedRequest request) => request.Route ?? request.Path;

    private static string Encode(string text) => HtmlEncoder.Default.Encode(text);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
