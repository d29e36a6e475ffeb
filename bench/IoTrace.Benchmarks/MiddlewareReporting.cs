using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using IoTrace.AspNetCore.Reporting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace IoTrace.Benchmarks;

/// <summary>
/// What reading a traced request's report costs besides its log event, per request, with Summary on an endpoint that
/// reads a small file: <c>untraced</c> is the same pipeline without the middleware, <c>bare</c> has none of it (no meter, no span enricher, no warnings), <c>idle</c> is
/// <c>AddIoTrace()</c>'s default (all registered, nothing listening, no budget), <c>meter</c> adds the OpenTelemetry
/// SDK listening to the IoTrace meter, <c>server-timing</c> the Server-Timing header. The cost of each is its
/// difference to <c>bare</c>, and Summary's own is <c>bare</c> minus <c>untraced</c>, all measured in the same run.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet disposes in [GlobalCleanup].")]
public class MiddlewareReporting
{
    private const int FileSize = 100;

    private string? _file;
    private MiddlewarePipeline? _pipeline;
    private MeterProvider? _meterProvider;

    [Params("untraced", "bare", "idle", "meter", "server-timing")]
    public string Reading { get; set; } = "bare";

    [GlobalSetup]
    public void Setup()
    {
        _file = Path.Combine(Path.GetTempPath(), $"iotrace-bench-{Environment.ProcessId}.bin");
        File.WriteAllBytes(_file, new byte[FileSize]);
        var settings = new Dictionary<string, string?> { ["IoTrace:Strategy"] = "Summary", ["IoTrace:Backend"] = "InProcess" };
        if (Reading == "bare")
        {
            settings["IoTrace:RepeatedOpenThreshold"] = "0";
            settings["IoTrace:ChattyIoThreshold"] = "0";
            settings["IoTrace:RoundTripThreshold"] = "0";
        }

        if (Reading == "server-timing")
        {
            settings["IoTrace:ServerTiming"] = "true";
        }

        if (Reading == "meter")
        {
            // The SDK aggregates every measurement; its reader exports only when asked (here: never during the run).
            _meterProvider = Sdk.CreateMeterProviderBuilder()
                .AddMeter("IoTrace")
                .AddInMemoryExporter(new List<Metric>(), reader => reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = Timeout.Infinite)
                .Build();
        }

        var file = _file;
        _pipeline = new MiddlewarePipeline(
            settings,
            useIoTrace: Reading != "untraced",
            context =>
            {
                context.Response.StatusCode = File.ReadAllBytes(file).Length;
                return Task.CompletedTask;
            },
            services =>
            {
                if (Reading == "bare")
                {
                    services.RemoveAll<ITracedRequestObserver>();
                }
            });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Console.WriteLine($"// {Reading}: {_pipeline!.Reports} reports logged");
        Trace.Assert(Reading == "untraced" ? _pipeline.Reports == 0 : _pipeline.Reports > 0, "the requests were traced, or not, as asked");
        _pipeline.Dispose();
        _meterProvider?.Dispose();
        File.Delete(_file!);
    }

    [Benchmark]
    public int Request() => _pipeline!.Invoke("/bench");
}
