using IoTrace.Attribution;
using IoTrace.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Tests;

public sealed class IoTracerTests : IDisposable
{
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Trace_FileReadInChunks_ReportsExactCallsBytesAndTheCallingLine()
    {
        Requires.Linux();
        var path = _files.Create(10_000);
        var readLine = 0;

        var report = IoTracer.Trace(Strategy.Read, () =>
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            var buffer = new byte[4096];
            while (file.Read(buffer) > 0) { readLine = Here.Line(); }
        });

        var pread = Assert.Single(report.Aggregates);
        Assert.Equal("pread64", pread.Probe);
        Assert.Equal(4, pread.Calls); // 4096 + 4096 + 1808 + the read that returns 0
        Assert.Equal(10_000, pread.Bytes);
        Assert.Equal(Here.File(), pread.File);
        Assert.Equal(readLine, pread.Line);
        Assert.Equal(path, pread.Target);
        Assert.NotNull(pread.Fd);
        Assert.Equal("IoTrace.Tests.IoTracerTests.Trace_FileReadInChunks_ReportsExactCallsBytesAndTheCallingLine (lambda)", pread.Method);
        Assert.Equal("inprocess", report.Backend);
        Assert.True(report.IsComplete);
        Assert.Equal(10_000, report.TotalBytes);
        Assert.Equal(4, report.TotalCalls);
    }

    [Fact]
    public void Trace_RootPathGiven_PrintsSourcePathsRelativeToIt()
    {
        Requires.Linux();
        var path = _files.Create(100);
        var options = new IoTraceStartOptions { RootPath = Path.GetDirectoryName(Here.File()) };

        using var scope = IoTracer.Start(Strategy.Read, options);
        File.ReadAllBytes(path);
        var report = scope.Stop();

        Assert.Equal("IoTracerTests.cs", Assert.Single(report.Aggregates).File);
    }

    [Fact]
    public void Start_CpuFeature_MeasuresCpuTimeNeverMoreThanWallTime()
    {
        Requires.Linux();
        var path = _files.Create(1 << 20);

        using var scope = IoTracer.Start(Strategy.All, new IoTraceStartOptions { Features = IoTraceFeatures.All });
        File.ReadAllBytes(path);
        var report = scope.Stop();

        Assert.NotEmpty(report.Aggregates);
        Assert.All(report.Aggregates, a => Assert.InRange(a.Cpu, TimeSpan.Zero, a.Time));
        Assert.True(report.TotalCpu > TimeSpan.Zero, "reading 1 MiB takes measurable CPU time");
    }

    [Fact]
    public void Trace_DefaultFeatures_AreCallsBytesAndTimeWithoutCpu()
    {
        Requires.Linux();
        var path = _files.Create(100);

        var report = IoTracer.Trace(Strategy.Read, () => File.ReadAllBytes(path));

        Assert.Equal(IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time, report.Features);
        Assert.Equal(TimeSpan.Zero, Assert.Single(report.Aggregates).Cpu);
    }

    [Fact]
    public void Start_FeaturesWithoutCpu_LeavesCpuAtZeroAndTheFormatterOmitsIt()
    {
        Requires.Linux();
        var path = _files.Create(2048);

        using var scope = IoTracer.Start(Strategy.Read, new IoTraceStartOptions { Features = IoTraceFeatures.Bytes | IoTraceFeatures.Time });
        File.ReadAllBytes(path);
        var report = scope.Stop();

        var pread = Assert.Single(report.Aggregates);
        Assert.Equal(2048, pread.Bytes);
        Assert.True(pread.Time > TimeSpan.Zero);
        Assert.Equal(TimeSpan.Zero, pread.Cpu);
        Assert.Equal(IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time, report.Features);
        Assert.DoesNotContain(" cpu ", report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Start_NoFeatures_StillCountsCallsExactly()
    {
        Requires.Linux();
        var path = _files.Create(9000);

        using var scope = IoTracer.Start(Strategy.Read, new IoTraceStartOptions { Features = IoTraceFeatures.None });
        File.ReadAllBytes(path);
        var report = scope.Stop();

        var pread = Assert.Single(report.Aggregates);
        Assert.Equal(1, pread.Calls); // ReadAllBytes knows the size from fstat: one pread
        Assert.Equal(0, pread.Bytes);
        Assert.Equal(TimeSpan.Zero, pread.Time);
        Assert.Equal(TimeSpan.Zero, pread.Cpu);
    }

    [Theory]
    // FileStream locks what it opens (flock), and truncates and checks the file system of what it creates.
    [InlineData(Strategy.Setup, new[] { "close", "flock", "fstat", "fstatfs", "ftruncate", "lseek", "openat" })]
    [InlineData(Strategy.Read, new[] { "pread64" })]
    [InlineData(Strategy.Write, new[] { "pwrite64" })]
    [InlineData(Strategy.All, new[] { "close", "flock", "fstat", "fstatfs", "ftruncate", "lseek", "openat", "pread64", "pwrite64" })]
    [InlineData(Strategy.Summary, new[] { "close", "flock", "fstat", "fstatfs", "ftruncate", "lseek", "openat", "pread64", "pwrite64" })]
    public void Trace_EachStrategy_RecordsExactlyItsProbes(Strategy strategy, string[] expectedProbes)
    {
        Requires.Linux();
        var path = _files.PathFor("strategy.bin");

        var report = IoTracer.Trace(strategy, () =>
        {
            File.WriteAllBytes(path, new byte[5000]);
            _ = File.ReadAllBytes(path);
        });

        Assert.Equal(expectedProbes, report.Aggregates.Select(a => a.Probe).Distinct().Order());
        Assert.Equal(strategy is Strategy.Read or Strategy.All or Strategy.Summary ? 5000 : 0, report.Aggregates.Bytes("pread64"));
        Assert.Equal(strategy is Strategy.Write or Strategy.All or Strategy.Summary ? 5000 : 0, report.Aggregates.Bytes("pwrite64"));
        if (strategy is Strategy.Setup or Strategy.All or Strategy.Summary)
        {
            Assert.Equal(2, report.Aggregates.Calls("openat"));
            Assert.Equal(2, report.Aggregates.Calls("close"));
        }
    }

    [Fact]
    public void Trace_Summary_KeepsNoFileLineOrFdContext()
    {
        Requires.Linux();
        var path = _files.Create(3000);

        var report = IoTracer.Trace(Strategy.Summary, () => File.ReadAllBytes(path));

        Assert.All(report.Aggregates, a =>
        {
            Assert.Null(a.File);
            Assert.Null(a.Line);
            Assert.Null(a.Method);
            Assert.Null(a.Fd);
            Assert.Null(a.Target);
        });
        Assert.Equal(report.Aggregates.Count, report.Aggregates.Select(a => a.Probe).Distinct().Count());
        Assert.Equal(3000, report.Aggregates.Bytes("pread64"));
    }

    [Fact]
    public async Task TraceAsync_SixteenConcurrentTraces_EachReportsOnlyItsOwnFile()
    {
        Requires.Linux();
        var paths = Enumerable.Range(1, 16).Select(i => _files.Create(i * 1000 + 7)).ToArray();
        using var start = new ManualResetEventSlim();

        var traces = paths.Select(path => Task.Run(() => IoTracer.TraceAsync(Strategy.All, async () =>
        {
            start.Wait();
            await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken);
        }))).ToArray();
        start.Set();
        var reports = await Task.WhenAll(traces);

        for (var i = 0; i < paths.Length; i++)
        {
            var report = reports[i];
            Assert.Equal(new FileInfo(paths[i]).Length, report.Aggregates.BytesRead());
            Assert.All(report.Aggregates.Where(a => a.Target is not null && a.Target.StartsWith(_files.Directory, StringComparison.Ordinal)), a => Assert.Equal(paths[i], a.Target));
            Assert.Equal(1, report.For(paths[i]).Calls("openat"));
        }
    }

    [Fact]
    public async Task TraceAsync_TaskWhenAllFanOut_ChargesEveryChildTaskToTheTrace()
    {
        Requires.Linux();
        var paths = Enumerable.Range(1, 4).Select(i => _files.Create(i * 4096)).ToArray();

        var report = await IoTracer.TraceAsync(Strategy.Read, async () =>
        {
            await Task.WhenAll(paths.Select(p => Task.Run(() => File.ReadAllBytes(p))));
        });

        foreach (var path in paths)
        {
            Assert.Equal(new FileInfo(path).Length, report.For(path).BytesRead());
        }
    }

    [Fact]
    public async Task TraceAsync_ReadAllBytesAsync_AttributesThreadPoolReadsToTheAwaitingLine()
    {
        Requires.Linux();
        var path = _files.Create(300_000);
        var line = 0;

        var report = await IoTracer.TraceAsync(Strategy.Read, async () =>
        {
            line = Here.Line(); await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken);
        });

        var pread = Assert.Single(report.Aggregates);
        Assert.Equal(300_000, pread.Bytes);
        Assert.Equal(line, pread.Line);
        Assert.Equal(Here.File(), pread.File);
    }

    [Fact]
    public async Task TraceAsync_AsyncFileStreamReads_AreAttributedToTheLineThatAwaitedThem()
    {
        // The runtime runs these preads on a thread-pool thread with no application frame on the stack, and ReadAsync
        // itself makes no call the tracer sees: the line comes with the work item that ReadAsync queued.
        Requires.Linux();
        var path = _files.Create(200_000);
        var readLine = 0;

        var report = await IoTracer.TraceAsync(Strategy.Read, async () =>
        {
            await ThreadPoolCallSites.FirstEventSinceEnabled.WaitAsync(TestContext.Current.CancellationToken);
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, useAsync: true);
            var buffer = new byte[65536];
            readLine = Here.Line(); while (await file.ReadAsync(buffer, TestContext.Current.CancellationToken) > 0)
            {
            }
        });

        var pread = Assert.Single(report.Aggregates);
        Assert.Equal((200_000L, 5L), (pread.Bytes, pread.Calls)); // three full reads of 64 KiB, the rest, and the one at the end
        Assert.Equal(readLine, pread.Line);
    }

    [Fact]
    public async Task Stop_IoAfterTheTraceEnded_IsNotCountedAnywhere()
    {
        Requires.Linux();
        var early = _files.Create(1111);
        var late = _files.Create(2222);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task orphan;

        IoTraceReport first;
        using (var scope = IoTracer.Start(Strategy.Read))
        {
            File.ReadAllBytes(early);
            orphan = Task.Run(
                async () =>
                {
                    await gate.Task;
                    File.ReadAllBytes(late);
                },
                TestContext.Current.CancellationToken);
            first = scope.Stop();
        }

        using var second = IoTracer.Start(Strategy.Read);
        gate.SetResult();
        await orphan;
        var secondReport = second.Stop();

        Assert.Equal(1111, first.Aggregates.BytesRead());
        Assert.Empty(secondReport.For(late));
        Assert.Equal(1111, first.Aggregates.BytesRead());
    }

    [Fact]
    public void Trace_NestedTrace_InnerCallsGoToTheInnerTraceOnly()
    {
        Requires.Linux();
        var outerFile = _files.Create(100);
        var innerFile = _files.Create(200);
        IoTraceReport? inner = null;

        var outer = IoTracer.Trace(Strategy.Read, () =>
        {
            File.ReadAllBytes(outerFile);
            inner = IoTracer.Trace(Strategy.Read, () => File.ReadAllBytes(innerFile));
            File.ReadAllBytes(outerFile);
        });

        Assert.Equal(200, inner!.Aggregates.BytesRead());
        Assert.Equal(200, outer.Aggregates.BytesRead());
        Assert.Equal([outerFile], outer.Aggregates.Select(a => a.Target).Distinct());
    }

    [Fact]
    public void Trace_WithFormatterName_WritesTheFormattedReportToTheStream()
    {
        Requires.Linux();
        var path = _files.Create(4321);
        using var stream = new StringWriter();

        var report = IoTracer.Trace(Strategy.Read, stream, "bytes", () => File.ReadAllBytes(path));

        Assert.Equal(report.ToString("bytes"), stream.ToString());
        Assert.Contains("4321", stream.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TraceAsync_WithFormatterDelegate_CallsItOnceWithTheReport()
    {
        Requires.Linux();
        var path = _files.Create(10);
        using var stream = new StringWriter();
        var seen = new List<IoTraceReport>();

        var report = await IoTracer.TraceAsync(Strategy.Read, stream, (s, t) => { seen.Add(t); s.Write($"{t.TotalBytes} bytes"); }, () => File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));

        Assert.Same(report, Assert.Single(seen));
        Assert.Equal("10 bytes", stream.ToString());
    }

    [Fact]
    public void Trace_BodyThrows_ExceptionPropagatesAndTheTraceEnds()
    {
        var thrown = Assert.Throws<InvalidOperationException>(() => IoTracer.Trace(Strategy.All, () => throw new InvalidOperationException("boom")));

        Assert.Equal("boom", thrown.Message);
        Assert.Equal(Strategy.All, IoTracer.Trace(Strategy.All, () => { }).Strategy);
    }

    [Theory]
    [InlineData("summary", Strategy.Summary)]
    [InlineData("SETUP", Strategy.Setup)]
    [InlineData(" Read ", Strategy.Read)]
    [InlineData("write", Strategy.Write)]
    [InlineData("All", Strategy.All)]
    public void ParseStrategy_KnownNameInAnyCase_ReturnsTheStrategy(string name, Strategy expected) =>
        Assert.Equal(expected, IoTracer.ParseStrategy(name));

    [Theory]
    [InlineData("everything")]
    [InlineData("")]
    [InlineData("3")]
    public void ParseStrategy_UnknownName_ThrowsNamingTheAllowedValues(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => IoTracer.ParseStrategy(name));

        Assert.Contains($"Unknown strategy '{name}'. Allowed values: Summary, Setup, Read, Write, All.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_UndefinedStrategyValue_ThrowsNamingTheAllowedValues()
    {
        var error = Assert.Throws<ArgumentException>(() => IoTracer.Start((Strategy)42));

        Assert.Contains("Allowed values: Summary, Setup, Read, Write, All.", error.Message, StringComparison.Ordinal);
    }
}
