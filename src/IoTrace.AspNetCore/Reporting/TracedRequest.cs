using System.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace IoTrace.AspNetCore.Reporting;

/// <summary>
/// A traced request whose report is whole: what the log, the meter, the budget checks and a test's collector read.
/// Holds no reference to the request's <see cref="HttpContext"/>, which the server reuses once the response completed;
/// its activity (the span), which outlives it.
/// </summary>
internal readonly record struct TracedRequest(
    string Method,
    string Path,
    string? Route,
    int StatusCode,
    string? TraceId,
    string? SpanId,
    IoTraceReport Report,
    IoTraceAttribute? EndpointSettings,
    Activity? Activity);
