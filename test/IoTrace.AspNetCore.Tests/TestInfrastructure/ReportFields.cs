using System.Globalization;
using System.Text.Json;
using IoTrace.AspNetCore.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace IoTrace.AspNetCore.Tests.TestInfrastructure;

/// <summary>
/// A <c>RequestTraced</c> event's structured state as a structured sink receives it: FakeLogger keeps each value as
/// its string, so the aggregates arrive as the JSON array the state renders them to.
/// </summary>
internal sealed class ReportFields(IReadOnlyList<KeyValuePair<string, string?>> state)
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public IReadOnlyList<string> Keys => [.. state.Select(p => p.Key)];

    public string Method => this[IoTraceRequestLog.MethodKey]!;

    public string Path => this[IoTraceRequestLog.PathKey]!;

    public string? Route => this[IoTraceRequestLog.RouteKey];

    public int StatusCode => int.Parse(this[IoTraceRequestLog.StatusCodeKey]!, CultureInfo.InvariantCulture);

    public string? TraceId => this[IoTraceRequestLog.TraceIdKey];

    public string? SpanId => this[IoTraceRequestLog.SpanIdKey];

    public string Strategy => this[IoTraceRequestLog.StrategyKey]!;

    public string Backend => this[IoTraceRequestLog.BackendKey]!;

    public long Calls => long.Parse(this[IoTraceRequestLog.CallsKey]!, CultureInfo.InvariantCulture);

    public long Bytes => long.Parse(this[IoTraceRequestLog.BytesKey]!, CultureInfo.InvariantCulture);

    public IReadOnlyList<LoggedAggregate> Aggregates =>
        JsonSerializer.Deserialize<LoggedAggregate[]>(this[IoTraceRequestLog.AggregatesKey]!, s_json)!;

    public string? this[string key] => state.Single(p => p.Key == key).Value;
}

/// <summary>One aggregate as the <c>Aggregates</c> field carries it.</summary>
internal sealed record LoggedAggregate(string Probe, string? File, int? Line, string? Method, int? Fd, string? Target, long Calls, long Bytes, double TimeMs, double CpuMs, double WaitMs);

internal static class ReportFieldsExtensions
{
    public static ReportFields Fields(this FakeLogRecord record) => new(record.StructuredState!);
}
