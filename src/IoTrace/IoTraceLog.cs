using Microsoft.Extensions.Logging;

namespace IoTrace;

/// <summary>What the tracer logs about itself. Event ids are stable: 1-99 core, 100+ middleware.</summary>
internal static partial class IoTraceLog
{
    [LoggerMessage(EventId = 1, EventName = "BackendSelected", Level = LogLevel.Information, Message = "IO tracing uses the {Backend} backend: {Reason}")]
    public static partial void BackendSelected(ILogger logger, string backend, string reason);

    [LoggerMessage(EventId = 2, EventName = "BackendUnavailable", Level = LogLevel.Warning, Message = "IO tracing is off: {Reason}. Traced code runs unchanged and reports are empty.")]
    public static partial void BackendUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 3, EventName = "BackendInstallFailed", Level = LogLevel.Warning, Message = "IO tracing could not install the {Backend} backend: {Reason}. Reports are empty and marked incomplete.")]
    public static partial void BackendInstallFailed(ILogger logger, string backend, string reason);

    [LoggerMessage(EventId = 4, EventName = "TracerFailed", Level = LogLevel.Error, Message = "The tracer failed to record or attribute an IO call; the traced code goes on, tracing goes on, and this is logged once.")]
    public static partial void TracerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5, EventName = "BackendFailed", Level = LogLevel.Warning, Message = "The {Backend} IO tracing backend stopped: {Reason}")]
    public static partial void BackendFailed(ILogger logger, string backend, string reason);

    [LoggerMessage(EventId = 6, EventName = "BackendLostCalls", Level = LogLevel.Warning, Message = "The {Backend} IO tracing backend lost calls: {Reason}. Logged once.")]
    public static partial void BackendLostCalls(ILogger logger, string backend, string reason);
}
