using System.Globalization;
using IoTrace.Backends;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace IoTrace.AspNetCore.Reporting;

/// <summary>
/// The request's IO so far as a <c>Server-Timing</c> entry (<c>io;dur=0.123;desc="4 calls, 5699 B"</c>), for a browser's
/// network panel: in the response's headers when they go out, and again, whole, in its trailers where the protocol has
/// them (HTTP/2 and later). What the headers cannot include: IO after the headers went out (the body's own writes), and
/// everything under a backend that counts calls after they return (eBPF), whose entry then says so.
/// </summary>
internal static class ServerTiming
{
    public const string HeaderName = "Server-Timing";
    public const string Metric = "io";

    private static readonly Func<object, Task> s_onStarting = static state =>
    {
        var (context, scope) = ((HttpContext, IoTraceScope))state;
        context.Response.Headers.Append(HeaderName, Entry(scope));
        return Task.CompletedTask;
    };

    /// <summary>Adds the entry to the response's headers when they go out.</summary>
    public static void BeforeHeaders(HttpContext context, IoTraceScope scope) => context.Response.OnStarting(s_onStarting, (context, scope));

    /// <summary>Adds the whole request's entry to the trailers, where the response has them and is still open.</summary>
    public static void InTrailers(HttpContext context, IoTraceScope scope)
    {
        if (context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers is { IsReadOnly: false } trailers)
        {
            trailers.Append(HeaderName, Entry(scope));
        }
    }

    internal static string Entry(IoTraceScope scope)
    {
        var session = scope.Session;
        if ((session.Recorder.Capabilities & BackendCapabilities.ReportsLate) != 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{Metric};desc=\"counted after the response ({session.Backend})\"");
        }

        var (calls, bytes, time) = session.SoFar();
        return string.Create(CultureInfo.InvariantCulture, $"{Metric};dur={time.TotalMilliseconds:0.###};desc=\"{calls} calls, {bytes} B\"");
    }
}
