using Microsoft.Extensions.Logging;

namespace IoTrace.AspNetCore.Logging;

/// <summary>
/// The middleware's log events, category <c>IoTrace</c>. Event ids are stable: the core uses 1-99, the middleware 100 and up.
/// </summary>
internal static partial class IoTraceMiddlewareLog
{
    public const string CategoryName = "IoTrace";

    /// <summary>
    /// The per-request report. It is written with <see cref="ILogger.Log{TState}"/> and an
    /// <see cref="IoTraceRequestLog"/> state rather than a generated method, because its message is the formatter's
    /// table and its fields are built per request (as HttpLogging's request log is).
    /// </summary>
    public static readonly EventId RequestTraced = new(100, nameof(RequestTraced));

    [LoggerMessage(EventId = 101, EventName = "TracerFailed", Level = LogLevel.Error,
        Message = "IO tracing failed for a request; the response is not affected. Further tracer failures are not logged.")]
    public static partial void TracerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 102, EventName = "FormatterFailed", Level = LogLevel.Error,
        Message = "The IoTrace formatter threw; reports are written with the 'default' formatter instead. Further formatter failures are not logged.")]
    public static partial void FormatterFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 103, EventName = "ReportLoggingFailed", Level = LogLevel.Error,
        Message = "Writing an IoTrace report to the log failed; the response is not affected. Further failures are not logged.")]
    public static partial void ReportLoggingFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 104, EventName = "OptionsRejected", Level = LogLevel.Error,
        Message = "The changed IoTrace options are invalid and were not applied; the last valid options stay in force. {Reason}")]
    public static partial void OptionsRejected(ILogger logger, string reason, Exception exception);

    [LoggerMessage(EventId = 106, EventName = "ObserverFailed", Level = LogLevel.Error,
        Message = "Something that reads IoTrace's reports (a meter, a test's collector) failed; the response is not affected. Further failures are not logged.")]
    public static partial void ObserverFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 110, EventName = "IoBudgetExceeded", Level = LogLevel.Warning,
        Message = "{Method} {Path} went over its IO budget: {Spent} {Unit} > {Budget}; most at {Location}.\n{Table}")]
    public static partial void IoBudgetExceeded(ILogger logger, string method, string path, long spent, string unit, long budget, string? location, string table);

    [LoggerMessage(EventId = 111, EventName = "RepeatedFileOpens", Level = LogLevel.Warning,
        Message = "{Method} {Path} opened {Target} {Count} times (the threshold is {Threshold}); most at {Location}.")]
    public static partial void RepeatedFileOpens(ILogger logger, string method, string path, string? target, long count, long threshold, string? location);

    [LoggerMessage(EventId = 112, EventName = "ChattyIo", Level = LogLevel.Warning,
        Message = "{Method} {Path} made {Count} reads and writes of {AverageBytes} bytes on average on {Target} (the threshold is {Threshold}); most at {Location}.")]
    public static partial void ChattyIo(ILogger logger, string method, string path, long count, long averageBytes, string? target, long threshold, string? location);

    [LoggerMessage(EventId = 113, EventName = "RepeatedRoundTrips", Level = LogLevel.Warning,
        Message = "{Method} {Path} wrote to {Target} {Count} times (the threshold is {Threshold}); most at {Location}.")]
    public static partial void RepeatedRoundTrips(ILogger logger, string method, string path, string? target, long count, long threshold, string? location);

    [LoggerMessage(EventId = 105, EventName = "OptionsApplied", Level = LogLevel.Debug,
        Message = "IoTrace options applied: enabled {Enabled}, strategy {Strategy}, level {ReportLevel}.")]
    public static partial void OptionsApplied(ILogger logger, bool enabled, Strategy strategy, LogLevel reportLevel);
}
