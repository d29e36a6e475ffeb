using Microsoft.AspNetCore.Http.Features;

namespace IoTrace.AspNetCore.Tests.Soak;

/// <summary>
/// A request pipeline invoked synchronously on the calling thread, without a server: the IoTrace middleware (or
/// none) in front of an endpoint that completes synchronously, with the reports going to a logger that discards
/// them, after reading their message (as a text sink does) or not (as a sink that keeps only the fields). Every
/// allocation of a request, its report included, happens on the calling thread.
/// </summary>
internal sealed class InProcessPipeline : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly RequestDelegate _pipeline;

    /// <param name="ioTrace">The <c>IoTrace</c> configuration section, or <see langword="null"/> for no middleware at all.</param>
    /// <param name="endpoint">The endpoint; it must complete synchronously.</param>
    /// <param name="readsMessage">Whether the logger reads each event's message, rendering the report's table.</param>
    /// <param name="messages">Receives the messages read, if given.</param>
    public InProcessPipeline(IReadOnlyDictionary<string, string?>? ioTrace, RequestDelegate endpoint, bool readsMessage = true, Action<string>? messages = null)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(ioTrace?.Select(p => new KeyValuePair<string, string?>("IoTrace:" + p.Key, p.Value)) ?? [])
            .Build();
        _services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging(logging => logging.AddProvider(new DiscardingLoggerProvider(readsMessage, messages)).SetMinimumLevel(LogLevel.Information))
            .AddIoTrace()
            .BuildServiceProvider();
        var app = new ApplicationBuilder(_services);
        if (ioTrace is not null)
        {
            app.UseIoTrace();
        }

        app.Run(endpoint);
        _pipeline = app.Build();
    }

    /// <summary>One request to <paramref name="path"/>: the pipeline, then the response's completion callbacks, where reports are logged.</summary>
    public void Invoke(string path)
    {
        var response = new CompletingResponseFeature();
        var context = new DefaultHttpContext();
        context.Features.Set<IHttpResponseFeature>(response);
        context.Request.Method = HttpMethods.Get;
        context.Request.Path = path;
        Wait(_pipeline(context));
        Wait(response.CompleteAsync());
    }

    public void Dispose() => _services.Dispose();

    private static void Wait(Task task)
    {
        if (!task.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("The pipeline did not complete synchronously: its allocations would not all be on this thread.", task.Exception);
        }
    }

    /// <summary>DefaultHttpContext's response feature drops completion callbacks; the middleware logs its report in one.</summary>
    private sealed class CompletingResponseFeature : HttpResponseFeature
    {
        private readonly List<(Func<object, Task> Callback, object State)> _onCompleted = [];

        public override void OnCompleted(Func<object, Task> callback, object state) => _onCompleted.Add((callback, state));

        public Task CompleteAsync()
        {
            foreach (var (callback, state) in _onCompleted)
            {
                Wait(callback(state));
            }

            return Task.CompletedTask;
        }
    }

    /// <summary>Enabled for everything, so the middleware traces and logs; keeps nothing, so the sink costs nothing but the message.</summary>
    private sealed class DiscardingLoggerProvider(bool readsMessage, Action<string>? messages) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (readsMessage)
            {
                var message = formatter(state, exception);
                messages?.Invoke(message);
            }
        }

        public void Dispose()
        {
        }
    }
}
