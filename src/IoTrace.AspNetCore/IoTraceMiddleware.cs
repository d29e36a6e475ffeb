using System.Diagnostics;
using System.Globalization;
using System.Text;
using IoTrace.AspNetCore.Configuration;
using IoTrace.AspNetCore.Logging;
using IoTrace.AspNetCore.Reporting;
using IoTrace.Tracing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace IoTrace.AspNetCore;

/// <summary>
/// Traces the IO a request makes while the rest of the pipeline runs and logs the report when the response has
/// completed, so the final status code is known: the io-trace gem's Rack middleware.
/// </summary>
internal sealed class IoTraceMiddleware
{
    private static readonly Func<object, Task> s_logReport = LogReport;
    private static readonly IoTraceFormatter s_fallbackFormatter = IoTraceFormatters.Get(IoTraceFormatters.DefaultName);

    // One buffer per thread, reused: a report is rendered per traced request. A buffer grown by a huge report is dropped.
    private const int MaxCachedTextCapacity = 64 * 1024;

    [ThreadStatic]
    private static StringBuilder? t_text;

    private readonly RequestDelegate _next;
    private readonly IoTraceOptionsTracker _options;
    private readonly Tracer _tracer;
    private readonly ITracedRequestObserver[] _observers;
    private readonly ILogger _logger;
    private readonly Func<IoTraceFormatter, IoTraceReport, string> _format;

    // Each kind of tracer failure is logged once, so a broken formatter cannot flood the log.
    private int _tracerFailed;
    private int _formatterFailed;
    private int _loggingFailed;
    private int _observerFailed;

    // A formatter failure met while a sink renders the message inside our own Log call is logged after that call
    // returns: logging from inside a sink's Log would re-enter it.
    [ThreadStatic]
    private static bool t_inReportLog;
    private Exception? _formatterFailure;

    // Reports waiting for a kernel backend's flush, and what the host's shutdown waits on until they are logged.
    private int _pendingLogs;
    private TaskCompletionSource? _drained;

    public IoTraceMiddleware(RequestDelegate next, IoTraceOptionsTracker options, Tracer tracer, IEnumerable<ITracedRequestObserver> observers, ILogger logger)
    {
        _next = next;
        _options = options;
        _tracer = tracer;
        _observers = [.. observers];
        _logger = logger;
        _format = Format;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var settings = _options.Current;

        // Untraced requests cost a path match, a level check and a sampling draw: no state machine, no allocation.
        if (!settings.ShouldTrace(context.Request.Path) || !_logger.IsEnabled(settings.LogLevel) || !settings.IsSampled())
        {
            return _next(context);
        }

        return InvokeTracedAsync(context, settings);
    }

    private async Task InvokeTracedAsync(HttpContext context, IoTraceSettings settings)
    {
        var scope = Start(settings, context);
        if (scope is null)
        {
            await _next(context);
            return;
        }

        // Taken now: later middleware may rewrite the path, and at OnCompleted the current activity may be
        // a child the endpoint started, or none.
        var method = context.Request.Method;
        // The whole path, as the client asked for it, also when the middleware runs in a Map branch.
        var path = context.Request.PathBase.Add(context.Request.Path).Value is { Length: > 0 } whole ? whole : "/";
        var activity = Activity.Current;
        if (settings.ServerTiming)
        {
            ServerTiming.BeforeHeaders(context, scope);
        }

        try
        {
            await _next(context);
            if (settings.ServerTiming)
            {
                ServerTiming.InTrailers(context, scope);
            }
        }
        finally
        {
            // Stop here, not at OnCompleted: the report covers the app's code, as the seed's did around @app.call(env).
            if (Stop(scope) is { } report)
            {
                Schedule(context, new PendingReport(this, context, settings, report, activity, method, path));
            }
        }
    }

    private IoTraceScope? Start(IoTraceSettings settings, HttpContext context)
    {
        try
        {
            // The endpoint's own strategy (.WithIoTrace(Strategy.Write), [IoTrace(Strategy.Write)]) wins over the options'.
            var strategy = context.GetEndpoint()?.Metadata.GetMetadata<IoTraceAttribute>()?.Strategy ?? settings.Strategy;
            return _tracer.Start(strategy, settings.StartOptions);
        }
        catch (Exception e)
        {
            OnFailure(ref _tracerFailed, IoTraceMiddlewareLog.TracerFailed, e);
            return null;
        }
    }

    /// <summary>
    /// The report now (in-process), or the task that gives it once a kernel backend has flushed: logged when it
    /// completes, never awaited on the request's path (see <see cref="LogWhenReady"/>).
    /// </summary>
    private Task<IoTraceReport>? Stop(IoTraceScope scope)
    {
        try
        {
            var stopped = scope.StopAsync();
            return stopped.IsCompletedSuccessfully ? Task.FromResult(stopped.Result) : stopped.AsTask();
        }
        catch (Exception e)
        {
            OnFailure(ref _tracerFailed, IoTraceMiddlewareLog.TracerFailed, e);
            return null;
        }
    }

    private void Schedule(HttpContext context, PendingReport pending)
    {
        try
        {
            context.Response.OnCompleted(s_logReport, pending);
        }
        catch (Exception e)
        {
            // A server without completion callbacks (or a response already completed): log now, status as it stands.
            OnFailure(ref _tracerFailed, IoTraceMiddlewareLog.TracerFailed, e);
            pending.Middleware.LogWhenReady(pending);
        }
    }

    private static Task LogReport(object state)
    {
        var pending = (PendingReport)state;
        pending.Middleware.LogWhenReady(pending);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Logs now, or once a kernel backend's flush has completed the report. That wait is not awaited here: Kestrel
    /// runs the next request of a keep-alive connection only after OnCompleted's callbacks, so awaiting would hold
    /// the connection for a flush. What the log needs from the context and the activity is read now, before the
    /// context is reused, and only that is kept while the flush is awaited, without the request's ExecutionContext:
    /// under load thousands of reports wait at once, and everything they hold is copied by every garbage collection
    /// meanwhile (holding the request's context made each gen0 collection take about 20 ms instead of 5 under the
    /// load benchmark). So a report logged after a flush carries no logger scopes of its request; its own fields
    /// (method, path, route, status, trace and span ids) identify it.
    /// </summary>
    private void LogWhenReady(PendingReport pending)
    {
        RequestOutcome outcome;
        try
        {
            var activity = pending.Activity;
            var w3c = activity?.IdFormat == ActivityIdFormat.W3C;
            var endpoint = pending.Context.GetEndpoint();
            outcome = new RequestOutcome(
                pending.Method,
                pending.Path,
                (endpoint as RouteEndpoint)?.RoutePattern.RawText,
                pending.Context.Response.StatusCode,
                w3c ? activity!.TraceId.ToHexString() : null,
                w3c ? activity!.SpanId.ToHexString() : null,
                endpoint?.Metadata.GetMetadata<IoTraceAttribute>(),
                activity);
        }
        catch (Exception e)
        {
            OnFailure(ref _loggingFailed, IoTraceMiddlewareLog.ReportLoggingFailed, e);
            return;
        }

        if (pending.Report.IsCompleted)
        {
            Log(pending.Settings, pending.Report, outcome);
        }
        else
        {
            using (SuppressedFlow.Begin())
            {
                Interlocked.Increment(ref _pendingLogs);
                _ = LogWhenFlushedAsync(pending.Settings, pending.Report, outcome);
            }
        }
    }

    private async Task LogWhenFlushedAsync(IoTraceSettings settings, Task<IoTraceReport> report, RequestOutcome outcome)
    {
        try
        {
            try
            {
                await report.ConfigureAwait(false);
            }
            catch (Exception e)
            {
                OnFailure(ref _tracerFailed, IoTraceMiddlewareLog.TracerFailed, e);
                return;
            }

            Log(settings, report, outcome);
        }
        finally
        {
            if (Interlocked.Decrement(ref _pendingLogs) == 0)
            {
                Volatile.Read(ref _drained)?.TrySetResult();
            }
        }
    }

    /// <summary>
    /// At the host's shutdown, after the last request: waits up to <paramref name="timeout"/> for the reports still
    /// waiting for a kernel backend's flush (about 40 ms after their response), so that the last requests' reports are
    /// logged, whole, before the backend detaches and the loggers go. Returns whether none is left.
    /// </summary>
    public bool WaitForPendingReports(TimeSpan timeout)
    {
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _drained, drained);
        return Volatile.Read(ref _pendingLogs) == 0 || drained.Task.Wait(timeout);
    }

    private void Log(IoTraceSettings settings, Task<IoTraceReport> completed, RequestOutcome outcome)
    {
        if (!completed.IsCompletedSuccessfully)
        {
            return;
        }

        var report = completed.Result;
        Publish(report, outcome);
        Warn(settings, report, outcome);
        try
        {
            if (!settings.ShouldLog(report) || !_logger.IsEnabled(settings.LogLevel))
            {
                return;
            }

            var entry = new IoTraceRequestLog(
                outcome.Method,
                outcome.Path,
                outcome.Route,
                outcome.StatusCode,
                outcome.TraceId,
                outcome.SpanId,
                report,
                settings.Formatter,
                _format);
            t_inReportLog = true;
            try
            {
                _logger.Log(settings.LogLevel, IoTraceMiddlewareLog.RequestTraced, entry, null, IoTraceRequestLog.Formatter);
            }
            finally
            {
                t_inReportLog = false;
            }
        }
        catch (Exception e)
        {
            OnFailure(ref _loggingFailed, IoTraceMiddlewareLog.ReportLoggingFailed, e);
        }

        if (Volatile.Read(ref _formatterFailure) is { } failure)
        {
            OnFailure(ref _formatterFailed, IoTraceMiddlewareLog.FormatterFailed, failure);
        }
    }

    /// <summary>Tells every observer (a test's collector, the meter) of the request, whatever the log's thresholds.</summary>
    private void Publish(IoTraceReport report, RequestOutcome outcome)
    {
        if (_observers.Length == 0)
        {
            return;
        }

        var request = new TracedRequest(outcome.Method, outcome.Path, outcome.Route, outcome.StatusCode, outcome.TraceId, outcome.SpanId, report, outcome.EndpointSettings, outcome.Activity);
        foreach (var observer in _observers)
        {
            try
            {
                observer.OnTraced(in request);
            }
            catch (Exception e)
            {
                OnFailure(ref _observerFailed, IoTraceMiddlewareLog.ObserverFailed, e);
            }
        }
    }

    /// <summary>Logs each IO habit the report shows (over budget, repeated opens, chatty IO, repeated round trips), whatever the report's own log level.</summary>
    private void Warn(IoTraceSettings settings, IoTraceReport report, RequestOutcome outcome)
    {
        try
        {
            if (!_logger.IsEnabled(LogLevel.Warning))
            {
                return;
            }

            if (IoWarnings.Find(report, settings.Warnings, outcome.EndpointSettings) is not { } warnings)
            {
                return;
            }

            foreach (var warning in warnings)
            {
                var (method, path) = (outcome.Method, outcome.Path);
                switch (warning.Kind)
                {
                    case IoWarningKind.CallBudget or IoWarningKind.ByteBudget:
                        IoTraceMiddlewareLog.IoBudgetExceeded(_logger, method, path, warning.Spent, warning.Kind == IoWarningKind.CallBudget ? "calls" : "bytes",
                            warning.Limit, warning.Location, Format(settings.Formatter, report));
                        break;
                    case IoWarningKind.RepeatedOpens:
                        IoTraceMiddlewareLog.RepeatedFileOpens(_logger, method, path, warning.Target, warning.Spent, warning.Limit, warning.Location);
                        break;
                    case IoWarningKind.ChattyIo:
                        IoTraceMiddlewareLog.ChattyIo(_logger, method, path, warning.Spent, warning.AverageBytes, warning.Target, warning.Limit, warning.Location);
                        break;
                    case IoWarningKind.RoundTrips:
                        IoTraceMiddlewareLog.RepeatedRoundTrips(_logger, method, path, warning.Target, warning.Spent, warning.Limit, warning.Location);
                        break;
                }
            }
        }
        catch (Exception e)
        {
            OnFailure(ref _loggingFailed, IoTraceMiddlewareLog.ReportLoggingFailed, e);
        }
    }

    private string Format(IoTraceFormatter formatter, IoTraceReport report)
    {
        try
        {
            return Write(formatter, report);
        }
        catch (Exception e) when (formatter != s_fallbackFormatter)
        {
            if (t_inReportLog)
            {
                Interlocked.CompareExchange(ref _formatterFailure, e, null);
            }
            else
            {
                OnFailure(ref _formatterFailed, IoTraceMiddlewareLog.FormatterFailed, e);
            }

            return Write(s_fallbackFormatter, report);
        }
    }

    private static string Write(IoTraceFormatter formatter, IoTraceReport report)
    {
        // Taken from the thread while in use: a formatter that logs, and so renders another report, gets its own.
        // The writer is new each time (a formatter may dispose it); the buffer behind it is what is worth keeping.
        var text = t_text ?? new StringBuilder();
        t_text = null;
        try
        {
            using var writer = new StringWriter(text, CultureInfo.InvariantCulture);
            formatter(writer, report);

            // The logger ends the event's line itself.
            var end = text.Length;
            while (end > 0 && char.IsWhiteSpace(text[end - 1]))
            {
                end--;
            }

            return text.ToString(0, end);
        }
        finally
        {
            text.Clear();
            if (text.Capacity <= MaxCachedTextCapacity)
            {
                t_text = text;
            }
        }
    }

    private void OnFailure(ref int logged, Action<ILogger, Exception> log, Exception exception)
    {
        if (Interlocked.Exchange(ref logged, 1) != 0)
        {
            return;
        }

        try
        {
            log(_logger, exception);
        }
        catch (Exception)
        {
            // The logger itself is what failed; there is nowhere left to report it.
        }
    }

    private readonly record struct RequestOutcome(string Method, string Path, string? Route, int StatusCode, string? TraceId, string? SpanId, IoTraceAttribute? EndpointSettings, Activity? Activity);

    private sealed record PendingReport(
        IoTraceMiddleware Middleware,
        HttpContext Context,
        IoTraceSettings Settings,
        Task<IoTraceReport> Report,
        Activity? Activity,
        string Method,
        string Path);
}
