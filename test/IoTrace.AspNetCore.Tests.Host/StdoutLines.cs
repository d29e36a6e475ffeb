using System.Globalization;
using Microsoft.Extensions.Logging;

namespace IoTrace.AspNetCore.Tests.Host;

/// <summary>Writes each IoTrace report, and every warning or error, as one line on stdout (see Program.cs).</summary>
internal sealed class StdoutLines : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Category(categoryName);

    public void Dispose()
    {
    }

    private sealed class Category(string name) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (name == "IoTrace" && eventId.Name == "RequestTraced" && state is IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                string Field(string key) => Convert.ToString(fields.Single(f => f.Key == key).Value, CultureInfo.InvariantCulture) ?? "-";
                Console.WriteLine($"report {Field("Path")} {Field("StatusCode")} {Field("Calls")} {Field("Bytes")} {Field("IsComplete")}");
            }
            else if (logLevel >= LogLevel.Warning)
            {
                Console.WriteLine($"log {logLevel} {name} {eventId.Id}: {formatter(state, exception)} {exception}".ReplaceLineEndings(" "));
            }
        }
    }
}
