using System.Text.RegularExpressions;
using IoTrace.AspNetCore.Logging;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace IoTrace.AspNetCore.Tests;

/// <summary>The middleware on TestServer: what a report holds, which requests are traced, and tracer failures.</summary>
public sealed partial class IoTraceMiddlewareTests
{
    [Fact]
    public async Task InvokeAsync_EndpointReadsFile_LogsItsBytesLineStatusAndRoute()
    {
        var path = TestFiles.Create(4096);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read" } };
        using var client = app.CreateHttpClient();

        var body = await client.GetTextAsync("/files/4096");

        var record = await app.Logs.ReportForAsync("/files/4096");
        AssertFileReport(app, record, path, 4096, TestRequests.LineIn(body), "/files/{size:int}", 200);
    }

    [Theory]
    [InlineData("/files/4097/setup", "Setup", "close 1, flock 2, fstat 2, openat 1")]
    [InlineData("/files/4097/writes", "Write", "")]
    [InlineData("/files/4097", "Read", "pread64 1")]
    public async Task InvokeAsync_EndpointWithItsOwnStrategy_TracesWithItOverTheConfiguredOne(string path, string strategy, string probes)
    {
        TestFiles.Create(4097);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read" } };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync(path);

        var fields = (await app.Logs.ReportForAsync(path)).Fields();
        Assert.Equal(strategy, fields.Strategy);
        Assert.Equal(probes, string.Join(", ", fields.Aggregates.GroupBy(a => a.Probe).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Sum(a => a.Calls)}")));
    }

    [Fact]
    public async Task InvokeAsync_RedactionAll_LogsNoFilePathInTextOrFields()
    {
        var path = TestFiles.Create(1536);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "All", ["IoTrace:Redaction"] = "All" } };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/files/1536");

        var record = await app.Logs.ReportForAsync("/files/1536");
        var fields = record.Fields();
        Assert.DoesNotContain(path, record.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(path, fields[IoTraceRequestLog.AggregatesKey], StringComparison.Ordinal);
        Assert.All(fields.Aggregates, a => Assert.Matches("^file#[0-9a-f]{8}$", a.Target));
        Assert.Equal(1536, fields.Bytes);
    }

    [Fact]
    public async Task AddIoTrace_ByDefault_ExposesNothingOverHttp()
    {
        await using var app = new TestApp();
        using var client = app.CreateHttpClient();

        foreach (var path in new[] { "/iotrace", "/_iotrace", "/IoTrace/report", "/metrics" })
        {
            using var response = await client.GetResponseAsync(path);
            Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
        }

        var endpoints = app.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints;
        Assert.DoesNotContain(endpoints, e => e.DisplayName?.Contains("IoTrace", StringComparison.OrdinalIgnoreCase) == true);
    }

    [Fact]
    public async Task InvokeAsync_EndpointReadsFile_StateCarriesRequestTraceAndTotals()
    {
        TestFiles.Create(2048);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "All" } };
        using var client = app.CreateHttpClient();

        var words = (await client.GetTextAsync("/files/2048")).Split(' ');

        var fields = (await app.Logs.ReportForAsync("/files/2048")).Fields();
        Assert.Equal(
            ["Method", "Path", "Route", "StatusCode", "TraceId", "SpanId", "Strategy", "Backend", "Calls", "Bytes", "TimeMs", "CpuMs", "ElapsedMs", "IsComplete", "Aggregates"],
            fields.Keys);
        Assert.Equal("GET", fields.Method);
        Assert.Equal("/files/2048", fields.Path);
        Assert.Equal("/files/{size:int}", fields.Route);
        Assert.Equal(200, fields.StatusCode);
        Assert.Equal(words[2], fields.TraceId);
        Assert.Equal(words[3], fields.SpanId);
        Assert.Equal("All", fields.Strategy);
        Assert.Equal("inprocess", fields.Backend);
        Assert.Equal("True", fields[IoTraceRequestLog.IsCompleteKey]);

        // File.ReadAllBytesAsync: openat, flock, two fstat, one pread64 of the whole file, flock, close.
        var aggregates = fields.Aggregates;
        Assert.Equal(["close", "flock", "fstat", "openat", "pread64"], aggregates.Select(a => a.Probe).Order());
        Assert.Equal(7, fields.Calls);
        Assert.Equal(aggregates.Sum(a => a.Calls), fields.Calls);
        Assert.Equal(2048, fields.Bytes);
        Assert.Equal(aggregates.Sum(a => a.Bytes), fields.Bytes);
        var timeMs = double.Parse(fields[IoTraceRequestLog.TimeMsKey]!, System.Globalization.CultureInfo.InvariantCulture);
        var cpuMs = double.Parse(fields[IoTraceRequestLog.CpuMsKey]!, System.Globalization.CultureInfo.InvariantCulture);
        var elapsedMs = double.Parse(fields[IoTraceRequestLog.ElapsedMsKey]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(aggregates.Sum(a => a.TimeMs), timeMs, tolerance: 0.0005 * aggregates.Count);
        Assert.Equal(aggregates.Sum(a => a.CpuMs), cpuMs, tolerance: 0.0005 * aggregates.Count);
        Assert.InRange(cpuMs, 0, timeMs);
        Assert.InRange(timeMs, 0, elapsedMs);
    }

    [Fact]
    public async Task InvokeAsync_EndpointReturns404_LogsThatStatusAndRoute()
    {
        var path = TestFiles.Create(100);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read" } };
        using var client = app.CreateHttpClient();

        using var response = await client.GetResponseAsync("/files/100/missing");
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
        var record = await app.Logs.ReportForAsync("/files/100/missing");
        AssertFileReport(app, record, path, 100, TestRequests.LineIn(body), "/files/{size:int}/missing", 404);
    }

    [Fact]
    public async Task InvokeAsync_EndpointThrows_ExceptionPropagatesUnchanged()
    {
        TestFiles.Create(100);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read" } };
        using var client = app.CreateHttpClient();

        // TestServer hands the app's exception to the client; on Kestrel the client gets a 500 (see the Kestrel tests).
        var exception = await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetTextAsync("/files/100/throw"));

        Assert.Equal("The endpoint failed after reading 100 bytes.", exception.Message);
    }

    [Fact]
    public async Task InvokeAsync_PathExcluded_LogsNothingForIt()
    {
        TestFiles.Create(100);
        await using var app = new TestApp
        {
            Settings = { ["IoTrace:ExcludePaths:0"] = "/health", ["IoTrace:ExcludePaths:1"] = "/files/*/missing" },
        };
        using var client = app.CreateHttpClient();

        Assert.Equal("healthy", await client.GetTextAsync("/health"));
        using (await client.GetResponseAsync("/files/100/missing"))
        {
        }

        await client.GetTextAsync("/files/100");

        await app.Logs.ReportForAsync("/files/100");
        Assert.Equal(["/files/100"], app.Logs.Reports.Select(r => r.Fields().Path));
    }

    [Fact]
    public async Task InvokeAsync_IncludePathsSet_TracesOnlyThem()
    {
        TestFiles.Create(100);
        await using var app = new TestApp { Settings = { ["IoTrace:IncludePaths:0"] = "/files/*/missing" } };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/files/100");
        using (await client.GetResponseAsync("/files/100/missing"))
        {
        }

        await app.Logs.ReportForAsync("/files/100/missing");
        Assert.Equal(["/files/100/missing"], app.Logs.Reports.Select(r => r.Fields().Path));
    }

    [Fact]
    public async Task InvokeAsync_BelowEveryThreshold_NotLogged()
    {
        TestFiles.Create(4096);
        TestFiles.Create(8192);
        await using var app = new TestApp
        {
            Settings = { ["IoTrace:Strategy"] = "Read", ["IoTrace:MinimumBytes"] = "5000", ["IoTrace:MinimumCalls"] = "2" },
        };
        using var client = app.CreateHttpClient();

        // Each request reads its file with one pread64: only the byte threshold can be reached.
        await client.GetTextAsync("/files/4096");
        await client.GetTextAsync("/files/8192");

        var record = await app.Logs.ReportForAsync("/files/8192");
        Assert.Equal(8192, record.Fields().Bytes);
        Assert.Equal(["/files/8192"], app.Logs.Reports.Select(r => r.Fields().Path));
    }

    [Fact]
    public async Task InvokeAsync_SamplingRatio_TracesOnlyTheRequestsWhoseTraceIdFallsUnderIt()
    {
        int[] sizes = [1100, 1200, 1300, 1400];
        foreach (var size in sizes)
        {
            TestFiles.Create(size);
        }

        await using var app = new TestApp { Settings = { ["IoTrace:SamplingRatio"] = "0.5" } };
        using var client = app.CreateHttpClient();

        // The trace ids' right-most 7 bytes against half of 2^56: over, over, under, under. The traced ones go last.
        (int Size, string TraceId)[] requests =
        [
            (1100, "4bf92f3577b34da6a380000000000000"),
            (1200, "4bf92f3577b34da6a3ffffffffffffff"),
            (1300, "4bf92f3577b34da6a300000000000000"),
            (1400, "4bf92f3577b34da6a37fffffffffffff"),
        ];
        foreach (var (size, traceId) in requests)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/files/{size}", UriKind.Relative));
            request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
            using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
            var body = await response.EnsureSuccessStatusCode().Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

            // The endpoint ran under the trace id sent.
            Assert.Equal(traceId, body.Split(' ')[2]);
        }

        // A report is logged as its response completes, which the client may see before: wait for both, in any order.
        await app.Logs.ReportForAsync("/files/1300");
        await app.Logs.ReportForAsync("/files/1400");
        Assert.Equal(
            [("/files/1300", "4bf92f3577b34da6a300000000000000", 1300L), ("/files/1400", "4bf92f3577b34da6a37fffffffffffff", 1400L)],
            app.Logs.Reports.Select(r => r.Fields()).Select(f => (f.Path, f.TraceId, f.Bytes)).OrderBy(f => f.Path, StringComparer.Ordinal));
    }

    [Fact]
    public async Task InvokeAsync_CustomFormatter_WritesTheMessage()
    {
        TestFiles.Create(4096);
        await using var app = new TestApp
        {
            AddServices = (services, _) => services.AddIoTrace(o =>
            {
                o.Strategy = Strategy.Read;
                o.Formatter = (stream, trace) => stream.WriteLine($"{trace.Strategy}: {trace.TotalBytes} bytes in {trace.TotalCalls} calls");
            }),
        };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/files/4096");

        Assert.Equal("Read: 4096 bytes in 1 calls", (await app.Logs.ReportForAsync("/files/4096")).Message);
    }

    [Fact]
    public void InvokeAsync_CustomFormatterDisposesItsWriter_EveryLaterReportStillRendered()
    {
        // The middleware reuses one text buffer per thread; a formatter that disposes the writer it was given must
        // not break the reports rendered after it on the same thread (the pipeline runs them all on this one).
        var calls = 0;
        IoTraceFormatters.Register("disposes-writer", (stream, trace) =>
        {
            stream.Write($"report {++calls}: {trace.TotalCalls} calls");
            stream.Dispose();
        });
        var messages = new List<string>();
        using var pipeline = new Soak.InProcessPipeline(
            new Dictionary<string, string?> { ["Formatter"] = "disposes-writer" },
            context =>
            {
                context.Response.StatusCode = StatusCodes.Status200OK;
                return Task.CompletedTask;
            },
            messages: messages.Add);

        for (var i = 0; i < 3; i++)
        {
            pipeline.Invoke("/bench");
        }

        Assert.Equal(["report 1: 0 calls", "report 2: 0 calls", "report 3: 0 calls"], messages.Where(m => m.StartsWith("report ", StringComparison.Ordinal)));
    }

    [Fact]
    public void InvokeAsync_CustomFormatterThrowsWhileASinkRendersIt_FailureLoggedOnceAfterTheReportNotInsideIt()
    {
        // The table is rendered when the sink reads the message, inside the sink's Log call. Logging the failure from
        // there would re-enter the sink (the failure's message would arrive before the report's); it must come after.
        IoTraceFormatters.Register("throws-when-rendered", (_, _) => throw new FormatException("The formatter broke."));
        var messages = new List<string>();
        using var pipeline = new Soak.InProcessPipeline(
            new Dictionary<string, string?> { ["Formatter"] = "throws-when-rendered", ["Strategy"] = "Summary" },
            context =>
            {
                context.Response.StatusCode = StatusCodes.Status200OK;
                return Task.CompletedTask;
            },
            messages: messages.Add);

        pipeline.Invoke("/bench");
        pipeline.Invoke("/bench");

        var relevant = messages.Where(m => m.StartsWith("Probe", StringComparison.Ordinal) || m.StartsWith("The IoTrace formatter threw", StringComparison.Ordinal))
            .Select(m => m.StartsWith("Probe", StringComparison.Ordinal) ? "report" : "failure");
        Assert.Equal(["report", "failure", "report"], relevant);
    }

    [Fact]
    public async Task InvokeAsync_CustomFormatterThrows_ResponseIntactAndFailureLoggedOnce()
    {
        TestFiles.Create(300);
        await using var app = new TestApp
        {
            AddServices = (services, _) => services.AddIoTrace(o => o.Formatter = (_, _) => throw new FormatException("The formatter broke.")),
        };
        using var client = app.CreateHttpClient();

        using var first = await client.GetResponseAsync("/files/300");
        using var second = await client.GetResponseAsync("/files/300/missing");

        Assert.Equal(System.Net.HttpStatusCode.OK, first.StatusCode);
        Assert.StartsWith("300 ", await first.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, second.StatusCode);
        await app.Logs.WaitForReportsAsync(2);

        // Logged after the logger call that rendered the failing message returns: just after the report, not before.
        await app.Logs.WaitForEventAsync("FormatterFailed");
        var failure = Assert.Single(app.Logs.Named("FormatterFailed"));
        Assert.Equal(LogLevel.Error, failure.Level);
        Assert.Equal(102, failure.Id.Id);
        Assert.Equal("The formatter broke.", Assert.IsType<FormatException>(failure.Exception).Message);

        // Both reports fall back to the default formatter (Summary: probe, feature, value).
        Assert.All(app.Logs.Reports, r => Assert.Equal("Probe Feature Value", TestRequests.Rows(r.Message)[0]));
    }

    [Fact]
    public async Task InvokeAsync_LoggerThrows_ResponseIntactAndFailureLoggedOnce()
    {
        TestFiles.Create(300);
        await using var app = new TestApp { ConfigureLogging = logging => logging.AddProvider(new ThrowingLoggerProvider()) };
        using var client = app.CreateHttpClient();

        var first = await client.GetTextAsync("/files/300");
        var second = await client.GetTextAsync("/files/300");

        Assert.StartsWith("300 ", first, StringComparison.Ordinal);
        Assert.StartsWith("300 ", second, StringComparison.Ordinal);
        await app.Logs.WaitForReportsAsync(2);
        var failure = await app.Logs.WaitForEventAsync("ReportLoggingFailed");
        Assert.Equal(103, failure.Id.Id);
        Assert.Equal("The sink is down.", Assert.IsType<AggregateException>(failure.Exception).InnerException!.Message);
        Assert.Single(app.Logs.Named("ReportLoggingFailed"));
    }

    [Fact]
    public async Task InvokeAsync_FeaturesWithoutTimeAndCpu_AggregatesCountCallsAndBytesOnly()
    {
        TestFiles.Create(4096);
        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "Read", ["IoTrace:Features"] = "Calls, Bytes" } };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/files/4096");

        var aggregate = Assert.Single((await app.Logs.ReportForAsync("/files/4096")).Fields().Aggregates);
        Assert.Equal(("pread64", 1L, 4096L, 0.0, 0.0), (aggregate.Probe, aggregate.Calls, aggregate.Bytes, aggregate.TimeMs, aggregate.CpuMs));
    }

    [Fact]
    public async Task InvokeAsync_SkippedNamespaceCoversTheEndpoint_NoLineAttributed()
    {
        TestFiles.Create(100);
        await using var app = new TestApp
        {
            Settings =
            {
                ["IoTrace:Strategy"] = "Read",
                ["IoTrace:SkippedNamespaces:0"] = typeof(TestEndpoints).FullName,
            },
        };
        using var client = app.CreateHttpClient();

        await client.GetTextAsync("/files/100");

        var aggregate = Assert.Single((await app.Logs.ReportForAsync("/files/100")).Fields().Aggregates);
        Assert.Equal(("pread64", null, null, 100L), (aggregate.Probe, aggregate.File, aggregate.Line, aggregate.Bytes));
    }

    [Theory]
    [InlineData("Enabled", "false", "/files/100")]
    [InlineData("ExcludePaths:0", "/files", "/files/100")]
    [InlineData("IncludePaths:0", "/health", "/files/100")]
    [InlineData("LogLevel", "Debug", "/files/100")]
    public void InvokeAsync_RequestNotTraced_ReturnsTheNextMiddlewaresTask(string key, string value, string path)
    {
        var next = new TaskCompletionSource().Task;
        var pipeline = BuildPipeline(new Dictionary<string, string?> { [$"IoTrace:{key}"] = value }, _ => next);

        var invoked = pipeline(RequestTo(path));

        Assert.Same(next, invoked);
    }

    [Fact]
    public void InvokeAsync_RequestNotTraced_AllocatesNothing()
    {
        var pipeline = BuildPipeline(new Dictionary<string, string?> { ["IoTrace:ExcludePaths:0"] = "/health" }, _ => Task.CompletedTask);
        var context = RequestTo("/health/live");
        pipeline(context);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            pipeline(context);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task InvokeAsync_RequestTraced_RunsTheNextMiddlewareInsideATrace()
    {
        var next = new TaskCompletionSource();
        var pipeline = BuildPipeline([], _ => next.Task);

        var invoked = pipeline(RequestTo("/files/100"));
        next.SetResult();
        await invoked;

        Assert.NotSame(next.Task, invoked);
    }

    private static void AssertFileReport(TestApp app, FakeLogRecord record, string file, long size, int line, string route, int status)
    {
        Assert.Equal("IoTrace", record.Category);
        Assert.Equal(new EventId(100, "RequestTraced"), record.Id);
        Assert.Equal(LogLevel.Information, record.Level);
        var fields = record.Fields();
        Assert.Equal(("GET", route, status, "Read", "inprocess", 1L, size), (fields.Method, fields.Route, fields.StatusCode, fields.Strategy, fields.Backend, fields.Calls, fields.Bytes));

        var source = Path.GetRelativePath(app.ContentRoot, TestEndpoints.SourceFile);
        var aggregate = Assert.Single(fields.Aggregates);
        Assert.Equal(("pread64", source, line, file, 1L, size), (aggregate.Probe, aggregate.File, aggregate.Line, aggregate.Target, aggregate.Calls, aggregate.Bytes));
        Assert.NotNull(aggregate.Fd);

        // The message is the default formatter's table: a row per feature (cpu is opt-in), then the totals.
        var rows = TestRequests.Rows(record.Message);
        Assert.Equal("File Line Probe FD Feature Value Target", rows[0]);
        Assert.Equal($"{source} {line} pread64 {aggregate.Fd} bytes {size} {file}", rows[1]);
        Assert.Equal($"{source} {line} pread64 {aggregate.Fd} calls 1 {file}", rows[3]);
        Assert.Matches(new Regex($@"^1 calls, {size} bytes, \d+\.\d{{3}} ms in IO \(Read, inprocess, \d+\.\d{{3}} ms traced\)$"), rows[4]);
        Assert.Equal(5, rows.Length);
    }

    private static RequestDelegate BuildPipeline(Dictionary<string, string?> settings, RequestDelegate next)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging(logging => logging.AddFakeLogging())
            .AddIoTrace()
            .BuildServiceProvider();
        var app = new ApplicationBuilder(services);
        app.UseIoTrace();
        app.Run(next);
        return app.Build();
    }

    private static DefaultHttpContext RequestTo(string path)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = path;
        context.Features.Set<IHttpResponseFeature>(new HttpResponseFeature());
        return context;
    }

    /// <summary>A sink that fails on every report.</summary>
    private sealed class ThrowingLoggerProvider : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId == IoTraceMiddlewareLog.RequestTraced)
            {
                throw new InvalidOperationException("The sink is down.");
            }
        }

        public void Dispose()
        {
        }
    }
}
