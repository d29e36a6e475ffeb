using System.Collections;

namespace IoTrace.AspNetCore.Logging;

/// <summary>
/// The state of the per-request log event: the formatter's table as the message, and the request and report as
/// fields, so a structured sink (Serilog, OpenTelemetry logs, JSON console) gets values, not only text. The table is
/// rendered when a sink first asks for the message, so sinks that keep only the fields never pay for it.
/// </summary>
internal sealed class IoTraceRequestLog : IReadOnlyList<KeyValuePair<string, object?>>
{
    public const string MethodKey = "Method";
    public const string PathKey = "Path";
    public const string RouteKey = "Route";
    public const string StatusCodeKey = "StatusCode";
    public const string TraceIdKey = "TraceId";
    public const string SpanIdKey = "SpanId";
    public const string StrategyKey = "Strategy";
    public const string BackendKey = "Backend";
    public const string CallsKey = "Calls";
    public const string BytesKey = "Bytes";
    public const string TimeMsKey = "TimeMs";
    public const string CpuMsKey = "CpuMs";
    public const string ElapsedMsKey = "ElapsedMs";
    public const string IsCompleteKey = "IsComplete";
    public const string AggregatesKey = "Aggregates";

    /// <summary>Present only when the request used a shared connection (<see cref="IoTraceReport.SharedAggregates"/>).</summary>
    public const string SharedAggregatesKey = "SharedAggregates";

    public static readonly Func<IoTraceRequestLog, Exception?, string> Formatter = static (log, _) => log.Message;

    private readonly IoTraceReport _report;
    private readonly IoTraceFormatter? _formatter;
    private readonly Func<IoTraceFormatter, IoTraceReport, string>? _render;
    private string? _message;
    private string? _aggregates;

    /// <summary>An event whose message <paramref name="render"/> makes with <paramref name="formatter"/>, once, when a sink first asks for it.</summary>
    public IoTraceRequestLog(string method, string path, string? route, int statusCode, string? traceId, string? spanId, IoTraceReport report, IoTraceFormatter formatter, Func<IoTraceFormatter, IoTraceReport, string> render)
        : this(method, path, route, statusCode, traceId, spanId, report)
    {
        _formatter = formatter;
        _render = render;
    }

    public IoTraceRequestLog(string method, string path, string? route, int statusCode, string? traceId, string? spanId, IoTraceReport report, string message)
        : this(method, path, route, statusCode, traceId, spanId, report)
    {
        _message = message;
    }

    private IoTraceRequestLog(string method, string path, string? route, int statusCode, string? traceId, string? spanId, IoTraceReport report)
    {
        Method = method;
        Path = path;
        Route = route;
        StatusCode = statusCode;
        TraceId = traceId;
        SpanId = spanId;
        _report = report;
    }

    public string Method { get; }

    public string Path { get; }

    public string? Route { get; }

    public int StatusCode { get; }

    public string? TraceId { get; }

    public string? SpanId { get; }

    /// <summary>The formatter's table. Two sinks asking at once may both render it; they get equal strings.</summary>
    public string Message => _message ??= _render!(_formatter!, _report);

    public int Count => _report.SharedAggregates.Count > 0 ? 16 : 15;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new(MethodKey, Method),
        1 => new(PathKey, Path),
        2 => new(RouteKey, Route),
        3 => new(StatusCodeKey, StatusCode),
        4 => new(TraceIdKey, TraceId),
        5 => new(SpanIdKey, SpanId),
        6 => new(StrategyKey, _report.Strategy.ToString()),
        7 => new(BackendKey, _report.Backend),
        8 => new(CallsKey, _report.TotalCalls),
        9 => new(BytesKey, _report.TotalBytes),
        10 => new(TimeMsKey, _report.TotalTime.TotalMilliseconds),
        11 => new(CpuMsKey, _report.TotalCpu.TotalMilliseconds),
        12 => new(ElapsedMsKey, _report.Elapsed.TotalMilliseconds),
        13 => new(IsCompleteKey, _report.IsComplete),
        14 => new(AggregatesKey, _aggregates ??= AggregatesJson.Write(_report.Aggregates)),
        // Rendered at each read, not kept: rare, and a field would cost every request's event its size.
        15 when _report.SharedAggregates.Count > 0 => new(SharedAggregatesKey, AggregatesJson.Write(_report.SharedAggregates)),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => Message;
}
