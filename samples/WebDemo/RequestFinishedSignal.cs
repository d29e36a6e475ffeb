using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;

namespace WebDemo;

/// <summary>
/// A logger provider that completes a task when ASP.NET Core logs "Request finished" for a path, which it does
/// after the response's completion callbacks, so after the request's IoTrace report.
/// </summary>
internal sealed class RequestFinishedSignal : ILoggerProvider, ILogger
{
    private const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";
    private const int RequestFinishedEventId = 2;

    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiting = new(StringComparer.Ordinal);

    public Task WaitFor(string path) =>
        _waiting.GetOrAdd(path, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public ILogger CreateLogger(string categoryName) => categoryName == HostingCategory ? this : NullLogger.Instance;

    public bool IsEnabled(LogLevel logLevel) => true;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Id == RequestFinishedEventId
            && state is IReadOnlyList<KeyValuePair<string, object?>> fields
            && fields.FirstOrDefault(f => f.Key == "Path").Value is string path
            && _waiting.TryRemove(path, out var waiting))
        {
            waiting.TrySetResult();
        }
    }

    public void Dispose()
    {
    }
}
