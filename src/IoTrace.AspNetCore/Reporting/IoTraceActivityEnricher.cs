using System.Diagnostics;
using System.Globalization;

namespace IoTrace.AspNetCore.Reporting;

/// <summary>
/// Gives the request's <see cref="Activity"/> (ASP.NET Core's, as OpenTelemetry's instrumentation records it) the
/// report's totals as tags and its lines with the most IO time as span events, at most <see cref="MaxLineEvents"/>.
/// Only while the activity is recorded (sampled for export) and still running: a kernel backend's report, complete after
/// the response, comes too late for the span, and only the meter and the log get it. ASP.NET Core starts an activity for
/// every request whenever its hosting logger is on, exported by no one: that one is left alone.
/// </summary>
internal sealed class IoTraceActivityEnricher : ITracedRequestObserver
{
    public const int MaxLineEvents = 5;

    public void OnTraced(in TracedRequest request)
    {
        if (request.Activity is not { IsAllDataRequested: true, Recorded: true, IsStopped: false } activity)
        {
            return;
        }

        var report = request.Report;
        activity.SetTag("iotrace.strategy", report.Strategy.ToString());
        activity.SetTag("iotrace.backend", report.Backend);
        activity.SetTag("iotrace.calls", report.TotalCalls);
        activity.SetTag("iotrace.bytes", report.TotalBytes);
        activity.SetTag("iotrace.io_time_ms", report.TotalTime.TotalMilliseconds);
        activity.SetTag("iotrace.complete", report.IsComplete);
        var lines = report.Aggregates
            .GroupBy(static a => (a.File, a.Line, a.Method))
            .Select(static g => (Line: g.Key, Calls: g.Sum(static a => a.Calls), Bytes: g.Sum(static a => a.Bytes), Time: g.Sum(static a => a.Time.TotalMilliseconds)))
            .OrderByDescending(static l => l.Time)
            .ThenByDescending(static l => l.Calls)
            .Take(MaxLineEvents);
        foreach (var line in lines)
        {
            var tags = new ActivityTagsCollection
            {
                ["iotrace.calls"] = line.Calls,
                ["iotrace.bytes"] = line.Bytes,
                ["iotrace.io_time_ms"] = line.Time,
            };
            if (line.Line.File is { } file)
            {
                tags["code.file.path"] = file;
            }

            if (line.Line.Line is { } number)
            {
                tags["code.line.number"] = number;
            }

            if (line.Line.Method is { } method)
            {
                tags["code.function.name"] = method;
            }

            var name = line.Line.File is null ? line.Line.Method ?? "-" : string.Create(CultureInfo.InvariantCulture, $"{line.Line.File}:{line.Line.Line}");
            activity.AddEvent(new ActivityEvent("iotrace.line " + name, tags: tags));
        }
    }
}
