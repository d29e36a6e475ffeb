using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Text.Json;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Attribution;
using IoTrace.Tests.Backends.InProcess;
using IoTrace.Tests.Shared;
using IoTrace.Tests.TestSupport;
using Xunit;

namespace IoTrace.Tests.Attribution;

/// <summary>The thread pool's listener is process-wide, and whether it stops depends on every trace: these run alone.</summary>
[Collection(typeof(ProcessWideBackend))]
public sealed class ThreadPoolCallSitesTests : IDisposable
{
    private static readonly long s_pastIdleDelay = (long)((ListeningWhileTraced.IdleDelay + TimeSpan.FromSeconds(1)).TotalSeconds * Stopwatch.Frequency);
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task Enqueue_AsyncFileStreamReadsOnThePool_TakeTheLineThatAwaitedThem()
    {
        Requires.Linux();
        var path = JsonFile(items: 3000);
        int openLine = 0, readLine = 0;

        var report = await IoTracer.TraceAsync(Strategy.All, async () =>
        {
            await ThreadPoolCallSites.FirstEventSinceEnabled.WaitAsync(TestContext.Current.CancellationToken);

            // FileStream queues each read to the thread pool; the later ones are queued from the pool by the reads before.
            openLine = Here.Line(); await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, useAsync: true);
            readLine = Here.Line(); var items = await JsonSerializer.DeserializeAsync<JsonElement[]>(stream, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(3000, items!.Length);
        });

        var reads = report.For(path).Where(static a => a.Probe == "pread64").ToArray();
        Assert.True(reads.Calls("pread64") > 1, "the file takes several reads");
        Assert.Equal(new FileInfo(path).Length, reads.Bytes("pread64"));
        Assert.All(reads, a => Assert.Equal((Here.File(), readLine), (a.File!, a.Line!.Value)));
        Assert.Equal(openLine, Assert.Single(report.For(path), static a => a.Probe == "openat").Line);
    }

    [Fact]
    public async Task Enqueue_TwoTracesReadingOnThePoolAtOnce_EachReadTakesItsOwnTracesLine()
    {
        Requires.Linux();
        var first = JsonFile(items: 2000);
        var second = JsonFile(items: 2500);
        var lines = new int[2];
        var bothOpen = new Barrier(2);

        async Task<IoTraceReport> TraceAsync(string path, int index) => await IoTracer.TraceAsync(Strategy.All, async () =>
        {
            await ThreadPoolCallSites.FirstEventSinceEnabled.WaitAsync(TestContext.Current.CancellationToken);
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, useAsync: true);
            bothOpen.SignalAndWait(TestContext.Current.CancellationToken);
            if (index == 0)
            {
                lines[0] = Here.Line(); _ = await JsonSerializer.DeserializeAsync<JsonElement[]>(stream, cancellationToken: TestContext.Current.CancellationToken);
            }
            else
            {
                lines[1] = Here.Line(); _ = await JsonSerializer.DeserializeAsync<JsonElement[]>(stream, cancellationToken: TestContext.Current.CancellationToken);
            }
        });

        var reports = await Task.WhenAll(Task.Run(() => TraceAsync(first, 0)), Task.Run(() => TraceAsync(second, 1)));

        for (var i = 0; i < 2; i++)
        {
            var path = i == 0 ? first : second;
            var reads = reports[i].Aggregates.Where(static a => a.Probe == "pread64").ToArray();
            Assert.All(reads, a => Assert.Equal((path, lines[i]), (a.Target!, a.Line!.Value)));
            Assert.Equal(new FileInfo(path).Length, reads.Bytes("pread64"));
        }
    }

    /// <summary>
    /// A request's own continuations may run on the pool thread that ran another request's work item of the same trace,
    /// inside that item: the line HttpClient's event gives each request (the flow's) comes before the item's.
    /// </summary>
    [Fact]
    public async Task Enqueue_TwoHttpClientRequestsFromTwoLines_EachRequestsSocketCallsOnItsOwnLine()
    {
        Requires.Linux();
        await using var upstream = new LoopbackHttpServer("hello");
        using var http = new HttpClient();
        var uri = new Uri($"http://{upstream.Peer}/");
        var lines = new int[2];

        var report = await IoTracer.TraceAsync(Strategy.All, async () =>
        {
            await ThreadPoolCallSites.FirstEventSinceEnabled.WaitAsync(TestContext.Current.CancellationToken);
            lines[0] = Here.Line(); Assert.Equal("hello", await http.GetStringAsync(uri, TestContext.Current.CancellationToken));
            lines[1] = Here.Line(); Assert.Equal("hello", await http.GetStringAsync(uri, TestContext.Current.CancellationToken));
        });
        await upstream.ServedAsync(2);

        // Two identical requests, each on a connection of its own (the server closes each): half of each side's bytes per line.
        var sockets = report.For(upstream.Peer).ToList();
        Assert.All(sockets, a => Assert.Contains(a.Line ?? 0, lines));
        foreach (var line in lines)
        {
            var own = sockets.Where(a => a.Line == line).ToList();
            Assert.Equal((1L, upstream.BytesReceived / 2, upstream.BytesSent / 2), (own.Calls("connect"), own.BytesWritten(), own.BytesRead()));
        }
    }

    [Fact]
    public async Task StopIfIdle_SummaryTracesOnly_TheThreadPoolStopsWritingItsEvents()
    {
        Requires.Linux();
        IoTracer.Start(Strategy.Read).Stop();
        using var summary = IoTracer.Start(Strategy.Summary);

        // Summary keeps no lines, so it needs no thread pool events; a trace with lines listens again from its start.
        Assert.True(ThreadPoolCallSites.StopIfIdle(Stopwatch.GetTimestamp() + s_pastIdleDelay));
        Assert.False(ThreadPoolCallSites.IsListening);
        Assert.False(EventSource.GetSources().Single(static s => s.Name == "System.Diagnostics.Eventing.FrameworkEventSource").IsEnabled());
        var write = IoTracer.Start(Strategy.Write);
        Assert.True(ThreadPoolCallSites.IsListening);
        await ThreadPoolCallSites.FirstEventSinceEnabled.WaitAsync(TestContext.Current.CancellationToken);
        write.Stop();
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task OnContextTraceStarted_ByTheBackendThatServesTheTrace_ListensOnlyIfItSeesCallsInTheirFlow(bool reportsLate, bool listens)
    {
        IoTracer.Start(Strategy.Read).Stop();
        Assert.True(ThreadPoolCallSites.StopIfIdle(Stopwatch.GetTimestamp() + s_pastIdleDelay));
        var backend = new FakeBackend("fake", reportsLate);

        // A kernel backend sees a pool thread's calls, not which work item it runs: the events would cost and serve nothing.
        var scope = new IoTraceScope(backend.Session(Strategy.All));
        Assert.Equal(listens, ThreadPoolCallSites.IsListening);
        var stopping = scope.StopAsync();
        backend.FinishFlush();
        await stopping;
    }

    /// <summary>A JSON array of <paramref name="items"/> objects, several times FileStream's and JsonSerializer's buffers.</summary>
    private string JsonFile(int items)
    {
        var path = _files.PathFor($"items-{items}.json");
        File.WriteAllText(path, "[" + string.Join(',', Enumerable.Range(0, items).Select(static i => $"{{\"id\":{i},\"name\":\"{new string('x', 40)}\"}}")) + "]");
        return path;
    }
}
