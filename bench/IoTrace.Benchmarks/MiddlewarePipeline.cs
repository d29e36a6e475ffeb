using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.HttpLogging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IoTrace.Benchmarks;

/// <summary>
/// A request pipeline without a server, for the middleware benchmarks: the IoTrace middleware (or none, or ASP.NET Core's
/// HttpLogging as a peer) in front of an endpoint, every event logged at Information or above to a logger that reads its
/// message (as a text sink does); IoTrace's reports are counted. A request runs synchronously, its report included, so
/// MemoryDiagnoser's Allocated column is all it allocates.
/// </summary>
internal sealed class MiddlewarePipeline : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly RequestDelegate _pipeline;
    private readonly ReportCount _reports = new();

    /// <param name="settings">The configuration, <c>IoTrace:</c> keys included.</param>
    /// <param name="useIoTrace">Whether the pipeline has the middleware.</param>
    /// <param name="endpoint">The endpoint; it must complete synchronously.</param>
    /// <param name="services">Changes the services after <c>AddIoTrace()</c>.</param>
    /// <param name="useHttpLogging">Whether the pipeline has HttpLogging, set up as the load benchmark's peer is.</param>
    public MiddlewarePipeline(Dictionary<string, string?> settings, bool useIoTrace, RequestDelegate endpoint, Action<IServiceCollection>? services = null, bool useHttpLogging = false)
    {
        var collection = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .AddLogging(logging => logging.AddProvider(new CountingLoggerProvider(_reports)).SetMinimumLevel(LogLevel.Information))
            .AddIoTrace();
        services?.Invoke(collection);
        if (useHttpLogging)
        {
            // samples/WebDemo's BenchPeers: request and response properties and headers and the duration, one event.
            collection.AddHttpLogging(static o =>
            {
                o.LoggingFields = HttpLoggingFields.RequestPropertiesAndHeaders | HttpLoggingFields.ResponsePropertiesAndHeaders | HttpLoggingFields.Duration;
                o.CombineLogs = true;
            });
        }

        _services = collection.BuildServiceProvider();
        var app = new ApplicationBuilder(_services);
        if (useIoTrace)
        {
            app.UseIoTrace();
        }

        if (useHttpLogging)
        {
            app.UseHttpLogging();
        }

        app.Run(endpoint);
        _pipeline = app.Build();
    }

    /// <summary>
    /// The pipeline of a load-benchmark configuration: <c>none</c> (no middleware), <c>disabled</c>
    /// (<c>IoTrace:Enabled=false</c>), <c>HttpLogging</c> (the peer, no IoTrace), or a strategy's name on the in-process
    /// backend, with <paramref name="settings"/> added; its endpoint reads <paramref name="file"/>, or makes no IO where
    /// that is null.
    /// </summary>
    public static MiddlewarePipeline ForConfiguration(string configuration, string? file, Dictionary<string, string?>? settings = null)
    {
        var all = configuration switch
        {
            "none" or "HttpLogging" => [],
            "disabled" => new Dictionary<string, string?> { ["IoTrace:Enabled"] = "false" },
            // The in-process backend by name: this project references IoTrace.Ebpf, which Auto would pick when root.
            _ => new Dictionary<string, string?> { ["IoTrace:Strategy"] = configuration, ["IoTrace:Backend"] = "InProcess" },
        };
        foreach (var (key, value) in settings ?? [])
        {
            all[key] = value;
        }

        return new MiddlewarePipeline(all, useIoTrace: configuration is not ("none" or "HttpLogging"), file is null
            ? static context =>
            {
                context.Response.StatusCode = 200;
                return Task.CompletedTask;
            }
            : context =>
            {
                context.Response.StatusCode = File.ReadAllBytes(file).Length;
                return Task.CompletedTask;
            }, useHttpLogging: configuration == "HttpLogging");
    }

    public IServiceProvider Services => _services;

    /// <summary>The reports logged so far (event 100).</summary>
    public long Reports => Interlocked.Read(ref _reports.Count);

    /// <summary>One GET request to <paramref name="path"/>: the pipeline, then the response's header and completion callbacks.</summary>
    public int Invoke(string path)
    {
        var response = new CallbackResponseFeature();
        var context = new DefaultHttpContext();
        context.Features.Set<IHttpResponseFeature>(response);
        context.Request.Method = HttpMethods.Get;
        context.Request.Path = path;
        _pipeline(context).GetAwaiter().GetResult();
        response.Complete();
        return context.Response.StatusCode;
    }

    public void Dispose() => _services.Dispose();

    /// <summary>DefaultHttpContext's response feature drops its callbacks; the middleware adds headers in one and logs in another.</summary>
    private sealed class CallbackResponseFeature : HttpResponseFeature
    {
        private readonly List<(Func<object, Task> Callback, object State)> _onStarting = [];
        private readonly List<(Func<object, Task> Callback, object State)> _onCompleted = [];

        public override void OnStarting(Func<object, Task> callback, object state) => _onStarting.Add((callback, state));

        public override void OnCompleted(Func<object, Task> callback, object state) => _onCompleted.Add((callback, state));

        /// <summary>The headers go out (the endpoint wrote no body), then the response completes.</summary>
        public void Complete()
        {
            foreach (var (callback, state) in _onStarting)
            {
                callback(state).GetAwaiter().GetResult();
            }

            foreach (var (callback, state) in _onCompleted)
            {
                callback(state).GetAwaiter().GetResult();
            }
        }
    }

    private sealed class ReportCount
    {
        public long Count;
    }

    /// <summary>Enabled for everything, so the middleware traces; reads the message of each event at Information or above, counts IoTrace's reports and keeps nothing.</summary>
    private sealed class CountingLoggerProvider(ReportCount count) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel < LogLevel.Information)
            {
                return;
            }

            // Reading the message is what a text sink pays (IoTrace's table, HttpLogging's combined event).
            _ = formatter(state, exception);
            if (eventId.Id == 100)
            {
                Interlocked.Increment(ref count.Count);
            }
        }

        public void Dispose()
        {
        }
    }
}
