using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IoTrace.Benchmarks;

/// <summary>
/// One request through the IoTrace middleware, without a server: time and bytes allocated per request, for each
/// configuration of the load benchmark (bench/load), on an endpoint without IO and on one that reads a small file.
/// The request runs synchronously, its report included (logged to a logger that reads its message and discards it), so MemoryDiagnoser's
/// Allocated column is everything the request allocates; the middleware's share is the difference to <c>none</c>.
/// </summary>
[MemoryDiagnoser]
public class MiddlewareRequest
{
    private const int FileSize = 100;

    private string? _file;
    private ServiceProvider? _services;
    private RequestDelegate? _pipeline;
    private ReportCount? _reports;

    /// <summary><c>none</c>: no middleware; <c>disabled</c>: <c>IoTrace:Enabled=false</c>; else the strategy.</summary>
    [Params("none", "disabled", "Summary", "Write", "All")]
    public string Configuration { get; set; } = "none";

    [Params(false, true)]
    public bool ReadsFile { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _file = Path.Combine(Path.GetTempPath(), $"iotrace-bench-{Environment.ProcessId}.bin");
        File.WriteAllBytes(_file, new byte[FileSize]);
        var settings = Configuration switch
        {
            "none" => [],
            "disabled" => new Dictionary<string, string?> { ["IoTrace:Enabled"] = "false" },
            // The in-process backend by name: this project references IoTrace.Ebpf, which Auto would pick when root.
            _ => new Dictionary<string, string?> { ["IoTrace:Strategy"] = Configuration, ["IoTrace:Backend"] = "InProcess" },
        };
        _reports = new ReportCount();
        _services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .AddLogging(logging => logging.AddProvider(new CountingLoggerProvider(_reports)).SetMinimumLevel(LogLevel.Information))
            .AddIoTrace()
            .BuildServiceProvider();
        var app = new ApplicationBuilder(_services);
        if (Configuration != "none")
        {
            app.UseIoTrace();
        }

        var file = _file;
        app.Run(ReadsFile
            ? context =>
            {
                context.Response.StatusCode = File.ReadAllBytes(file).Length;
                return Task.CompletedTask;
            }
            : context =>
            {
                context.Response.StatusCode = 200;
                return Task.CompletedTask;
            });
        _pipeline = app.Build();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // Proof that the traced configurations traced: one report per request.
        var traced = Configuration is not ("none" or "disabled");
        Console.WriteLine($"// {Configuration}: {_reports!.Reports} reports logged");
        Trace.Assert(traced == _reports.Reports > 0, "reports were logged if and only if the configuration traces");
        _services!.Dispose();
        File.Delete(_file!);
    }

    [Benchmark]
    public int Request()
    {
        var response = new CompletingResponseFeature();
        var context = new DefaultHttpContext();
        context.Features.Set<IHttpResponseFeature>(response);
        context.Request.Method = HttpMethods.Get;
        context.Request.Path = "/bench";
        _pipeline!(context).GetAwaiter().GetResult();
        response.Complete();
        return context.Response.StatusCode;
    }

    /// <summary>DefaultHttpContext's response feature drops completion callbacks; the middleware logs its report in one.</summary>
    private sealed class CompletingResponseFeature : HttpResponseFeature
    {
        private readonly List<(Func<object, Task> Callback, object State)> _onCompleted = [];

        public override void OnCompleted(Func<object, Task> callback, object state) => _onCompleted.Add((callback, state));

        public void Complete()
        {
            foreach (var (callback, state) in _onCompleted)
            {
                callback(state).GetAwaiter().GetResult();
            }
        }
    }

    private sealed class ReportCount
    {
        private long _reports;

        public long Reports => Interlocked.Read(ref _reports);

        public void Add() => Interlocked.Increment(ref _reports);
    }

    /// <summary>Enabled for everything, so the middleware traces; reads each report's message, counts the reports and keeps nothing.</summary>
    private sealed class CountingLoggerProvider(ReportCount count) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 100)
            {
                // Reading the message is what a text sink pays (the formatter's table).
                _ = formatter(state, exception);
                count.Add();
            }
        }

        public void Dispose()
        {
        }
    }
}
