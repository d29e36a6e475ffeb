using System.Collections.Concurrent;
using System.Runtime.Versioning;
using IoTrace.AspNetCore.Logging;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Faults;

/// <summary>
/// Failures around a traced request on a real Kestrel (a formatter or the logger throws, the endpoint throws, the
/// client goes away mid-response): the response, or the abort, is what it is without tracing; no trace stays active
/// and no fd stays owned; and the next request is traced exactly. IoTraceMiddlewareTests covers the failures' logs.
/// </summary>
[Collection(typeof(ProcessWideTracing))]
[SupportedOSPlatform("linux")]
public sealed class RequestFaultTests
{
    private const int StreamChunk = 64 * 1024;

    // 1 GiB: far more than the socket buffers between the endpoint and an aborting client can hold.
    private const int MaxStreamChunks = 16 * 1024;

    [Fact]
    public async Task InvokeAsync_CustomFormatterThrowsOnConcurrentRequests_ResponsesAndReportsExactNothingLeaks()
    {
        Requires.Linux();
        var sizes = Enumerable.Range(31_001, 8).ToArray();
        await using var app = new TestApp
        {
            AddServices = (services, _) => services.AddIoTrace(o =>
            {
                o.Strategy = Strategy.All;
                o.Formatter = (_, _) => throw new FormatException("The formatter broke.");
            }),
        }.UseLoopbackKestrel();
        using var client = app.CreateHttpClient();

        var bodies = await GetFilesAsync(client, sizes);

        await app.Logs.WaitForReportsAsync(sizes.Length);
        AssertEachReportExact(app, sizes, bodies);
        await app.Logs.WaitForEventAsync("FormatterFailed"); // logged just after the report whose rendering failed
        Assert.Single(app.Logs.Named("FormatterFailed"));
        await AssertIdleThenNextRequestTracedExactlyAsync(app, client, 31_100);
    }

    [Fact]
    public async Task InvokeAsync_LoggerThrowsOnConcurrentRequests_ResponsesAndReportsExactNothingLeaks()
    {
        Requires.Linux();
        var sizes = Enumerable.Range(32_001, 8).ToArray();
        await using var app = new TestApp
        {
            Settings = { ["IoTrace:Strategy"] = "All" },
            ConfigureLogging = logging => logging.AddProvider(new ThrowingLoggerProvider()),
        }.UseLoopbackKestrel();
        using var client = app.CreateHttpClient();

        var bodies = await GetFilesAsync(client, sizes);

        // The logging pipeline still hands each report to the other providers, then throws.
        await app.Logs.WaitForReportsAsync(sizes.Length);
        AssertEachReportExact(app, sizes, bodies);
        await app.Logs.WaitForEventAsync("ReportLoggingFailed"); // logged just after the logger call that threw
        Assert.Single(app.Logs.Named("ReportLoggingFailed"));
        await AssertIdleThenNextRequestTracedExactlyAsync(app, client, 32_100);
    }

    [Fact]
    public async Task InvokeAsync_EndpointThrows_SameResponseAndExceptionAsUntracedNothingLeaks()
    {
        Requires.Linux();
        var path = TestFiles.Create(33_001);
        var untracedExceptions = new ConcurrentQueue<Exception>();
        var tracedExceptions = new ConcurrentQueue<Exception>();
        await using var untraced = new TestApp { UsePipeline = app => app.Use(Capture(untracedExceptions)) }.UseLoopbackKestrel();
        await using var traced = new TestApp
        {
            Settings = { ["IoTrace:Strategy"] = "All" },
            UsePipeline = app => app.Use(Capture(tracedExceptions)).UseIoTrace(),
        }.UseLoopbackKestrel();
        using var untracedClient = untraced.CreateHttpClient();
        using var tracedClient = traced.CreateHttpClient();

        var expected = await DescribeAsync(untracedClient, "/files/33001/throw");
        var actual = await DescribeAsync(tracedClient, "/files/33001/throw");

        Assert.Equal(expected, actual);
        Assert.StartsWith("500 ", actual, StringComparison.Ordinal);

        // The app's middleware outside UseIoTrace gets the endpoint's exception as such, thrown from the endpoint.
        var exception = Assert.IsType<InvalidOperationException>(Assert.Single(tracedExceptions));
        Assert.Equal(Assert.Single(untracedExceptions).Message, exception.Message);
        Assert.Contains($"{typeof(TestEndpoints).FullName}.", exception.StackTrace!.Split('\n')[0], StringComparison.Ordinal);

        var fields = (await traced.Logs.ReportForAsync("/files/33001/throw")).Fields();
        Assert.Equal((500, 33_001L), (fields.StatusCode, fields.Bytes));
        Assert.Equal([path], fields.Aggregates.Select(a => a.Target).Distinct());
        await AssertIdleThenNextRequestTracedExactlyAsync(traced, tracedClient, 33_100);
    }

    [Fact]
    public async Task InvokeAsync_ClientAbortsMidResponse_AbortReachesTheAppUnchangedReportCountsWhatWasReadNothingLeaks()
    {
        Requires.Linux();
        var path = TestFiles.Create(StreamChunk);
        var exceptions = new ConcurrentQueue<Exception>();
        Exception? endpointException = null;
        long bytesRead = 0;
        await using var app = new TestApp
        {
            Settings = { ["IoTrace:Strategy"] = "All" },
            UsePipeline = pipeline =>
            {
                pipeline.Use(Capture(exceptions)).UseIoTrace();

                // Streams the same 64 KiB file chunk after chunk until the client goes away: an endless download.
                pipeline.Map("/stream", stream => stream.Run(async context =>
                {
                    using var file = File.OpenHandle(path);
                    var chunk = new byte[StreamChunk];
                    try
                    {
                        for (var i = 0; i < MaxStreamChunks; i++)
                        {
                            Interlocked.Add(ref bytesRead, RandomAccess.Read(file, chunk, 0));
                            await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                        }
                    }
                    catch (Exception e)
                    {
                        Volatile.Write(ref endpointException, e);
                        throw;
                    }
                }));
            },
        }.UseLoopbackKestrel();
        using var client = app.CreateHttpClient();

        using (var aborting = app.CreateHttpClient())
        using (var response = await aborting.GetAsync(new Uri("/stream", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken))
        {
            // Part of the body, then dispose: HttpClient closes the connection under the unread rest.
            await using var body = await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken);
            await body.ReadExactlyAsync(new byte[4 * StreamChunk], TestContext.Current.CancellationToken);
        }

        // Logged once the request has ended, so the endpoint has stopped writing and reading.
        var fields = (await app.Logs.ReportForAsync("/stream")).Fields();
        var read = Interlocked.Read(ref bytesRead);
        Assert.InRange(read, 4 * StreamChunk, (MaxStreamChunks - 1L) * StreamChunk);
        Assert.Same(Volatile.Read(ref endpointException), Assert.Single(exceptions));
        Assert.Equal((200, read / StreamChunk, read), (fields.StatusCode, fields.Aggregates.Where(a => a.Probe == "pread64").Sum(a => a.Calls), fields.Aggregates.Where(a => a.Probe == "pread64").Sum(a => a.Bytes)));
        Assert.Equal([path], fields.Aggregates.Select(a => a.Target).Distinct());
        await AssertIdleThenNextRequestTracedExactlyAsync(app, client, 34_100);
    }

    private static async Task<string[]> GetFilesAsync(HttpClient client, int[] sizes)
    {
        foreach (var size in sizes)
        {
            TestFiles.Create(size);
        }

        return await Task.WhenAll(sizes.Select(size => client.GetTextAsync($"/files/{size}")));
    }

    private static void AssertEachReportExact(TestApp app, int[] sizes, string[] bodies)
    {
        var reports = app.Logs.Reports.Select(r => r.Fields()).ToDictionary(f => f.Path);
        Assert.Equal(sizes.Length, reports.Count);
        Assert.All(sizes.Zip(bodies), request => Assert.Null(FileReadReports.Mismatch(app, request.First, request.Second, reports[$"/files/{request.First}"])));
    }

    /// <summary>Once the failed requests are done, no trace is active, no fd is owned, and a new request is traced exactly.</summary>
    private static async Task AssertIdleThenNextRequestTracedExactlyAsync(TestApp app, HttpClient client, int size)
    {
        var tables = TracerTables.Read();
        Assert.Equal((0, 0, 0), (tables.ActiveTraces, tables.ShimActiveTraces, tables.FdOwners));
        TestFiles.Create(size);

        var body = await client.GetTextAsync($"/files/{size}");

        var report = (await app.Logs.ReportForAsync($"/files/{size}")).Fields();
        Assert.Null(FileReadReports.Mismatch(app, size, body, report));
    }

    /// <summary>Status, content type and body: what a client sees of a response.</summary>
    private static async Task<string> DescribeAsync(HttpClient client, string path)
    {
        using var response = await client.GetResponseAsync(path);
        return $"{(int)response.StatusCode} {response.Content.Headers.ContentType} '{await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}'";
    }

    /// <summary>An app middleware that records the exceptions coming out of the rest of the pipeline.</summary>
    private static Func<HttpContext, RequestDelegate, Task> Capture(ConcurrentQueue<Exception> exceptions) => async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (Exception e)
        {
            exceptions.Enqueue(e);
            throw;
        }
    };

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
