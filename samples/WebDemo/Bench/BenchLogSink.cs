namespace WebDemo.Bench;

/// <summary>
/// Receives the IoTrace reports (enabling the category is what makes the middleware trace) and counts them,
/// with every warning and error of any category.
/// </summary>
internal sealed class BenchLogSink : ILoggerProvider, ILogger
{
    private const int RequestTracedEventId = 100;

    private long _reports;
    private long _warnings;
    private long _errors;

    public long Reports => Interlocked.Read(ref _reports);

    public long Warnings => Interlocked.Read(ref _warnings);

    public long Errors => Interlocked.Read(ref _errors);

    public ILogger CreateLogger(string categoryName) =>
        categoryName.StartsWith("Microsoft.AspNetCore.HttpLogging", StringComparison.Ordinal) ? new HttpLogLogger(this) : this;

    /// <summary>A per-request record of a peer (an OpenTelemetry span, a Serilog event), rendered by its sink: counted as a report.</summary>
    public void CountRecord(int renderedLength)
    {
        if (renderedLength > 0)
        {
            Interlocked.Increment(ref _reports);
        }
    }

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel >= LogLevel.Error)
        {
            Interlocked.Increment(ref _errors);
        }
        else if (logLevel == LogLevel.Warning)
        {
            Interlocked.Increment(ref _warnings);
        }
        else if (eventId.Id == RequestTracedEventId && eventId.Name == "RequestTraced")
        {
            // A structured sink reads the state's fields and the message; reading the message is what a text sink pays.
            _ = formatter(state, exception);
            Interlocked.Increment(ref _reports);
        }
    }

    public void Dispose()
    {
    }

    /// <summary>HttpLogging's per-request event, rendered as a text sink would, and counted as a report.</summary>
    private sealed class HttpLogLogger(BenchLogSink sink) : ILogger
    {
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Information)
            {
                sink.CountRecord(formatter(state, exception).Length);
            }
            else
            {
                sink.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
