using Microsoft.Extensions.Logging;

namespace IoTrace.Tests.Shared;

/// <summary>
/// The tracer's warnings in a test host (<see cref="IoTracer.LoggerFactory"/>), for its last line: a report marked
/// incomplete then says why (a backend that failed, calls it lost), and so does the test that fails on it.
/// </summary>
internal sealed class HostWarnings : ILoggerFactory, ILogger
{
    private readonly List<string> _warnings = [];

    /// <summary>"DONE backend complete", followed by the warnings logged so far when the report is incomplete.</summary>
    public string Done(IoTraceReport report)
    {
        var done = $"DONE {report.Backend} {report.IsComplete}";
        lock (_warnings)
        {
            return report.IsComplete || _warnings.Count == 0 ? done : $"{done}: {string.Join(" | ", _warnings)}";
        }
    }

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            lock (_warnings)
            {
                _warnings.Add(formatter(state, exception));
            }
        }
    }

    public void Dispose()
    {
    }
}
