using System.Diagnostics;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Tests.Shared;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Reporting;

/// <summary>
/// The meter and the span, read back from the OpenTelemetry SDK's in-memory exporters. Alone, after the parallel tests:
/// the SDK listens to every meter named IoTrace and every ASP.NET Core activity in the process, other tests' apps included.
/// </summary>
[Collection(typeof(ProcessWideListeners))]
public sealed class OpenTelemetryTests
{
    [Fact]
    public async Task InvokeAsync_SdkListening_MeterAndSpanCarryTheRequestsIo()
    {
        TestFiles.Create(4096);
        var metrics = new List<Metric>();
        var spans = new List<Activity>();
        var stopped = new TaskCompletionSource<Activity>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Microsoft.AspNetCore",
            ActivityStopped = activity => stopped.TrySetResult(activity),
        };
        ActivitySource.AddActivityListener(listener);
        await using var app = new TestApp
        {
            Settings = { ["IoTrace:Strategy"] = "Read" },
            AddServices = (services, _) =>
            {
                services.AddIoTrace();
                services.AddOpenTelemetry()
                    .WithMetrics(m => m.AddMeter("IoTrace").AddInMemoryExporter(metrics))
                    .WithTracing(t => t.AddAspNetCoreInstrumentation().AddInMemoryExporter(spans));
            },
        };
        using var client = app.CreateHttpClient();

        var line = TestRequests.LineIn(await client.GetTextAsync("/files/4096"));

        await app.Logs.ReportForAsync("/files/4096");
        var span = await stopped.Task.WaitAsync(TestLogs.Timeout, TestContext.Current.CancellationToken);
        Assert.True(app.Services.GetRequiredService<MeterProvider>().ForceFlush());
        var bytes = Assert.Single(metrics, m => m.Name == "iotrace.request.bytes");
        var point = Assert.Single(Points(bytes));
        Assert.Equal(
            [("http.request.method", "GET"), ("http.route", "/files/{size:int}"), ("iotrace.probe_class", "read"), ("iotrace.status_class", "2xx"), ("iotrace.target_kind", "file")],
            Tags(point));
        Assert.Equal((1L, 4096.0), (point.GetHistogramCount(), point.GetHistogramSum()));
        Assert.Equal((1L, 4096L, "Read"), ((long)span.GetTagItem("iotrace.calls")!, (long)span.GetTagItem("iotrace.bytes")!, (string)span.GetTagItem("iotrace.strategy")!));
        var lineEvent = Assert.Single(span.Events);
        Assert.Equal($"iotrace.line TestInfrastructure/TestEndpoints.cs:{line}", lineEvent.Name);
        Assert.Contains(new KeyValuePair<string, object?>("code.line.number", line), lineEvent.Tags);
    }

    private static List<MetricPoint> Points(Metric metric)
    {
        var points = new List<MetricPoint>();
        foreach (var point in metric.GetMetricPoints())
        {
            points.Add(point);
        }

        return points;
    }

    private static List<(string, string)> Tags(MetricPoint point)
    {
        var tags = new List<(string, string)>();
        foreach (var tag in point.Tags)
        {
            tags.Add((tag.Key, (string)tag.Value!));
        }

        return [.. tags.OrderBy(t => t.Item1, StringComparer.Ordinal)];
    }
}
