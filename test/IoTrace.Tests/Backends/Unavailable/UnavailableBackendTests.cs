using IoTrace.Tracing;
using IoTrace.Backends.Unavailable;
using IoTrace.Tests.Backends.InProcess;
using IoTrace.Tests.TestSupport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace IoTrace.Tests.Backends.Unavailable;

/// <summary>Replaces the process's backend, so it runs with the other process-wide tests, alone.</summary>
[Collection(typeof(ProcessWideBackend))]
public sealed class UnavailableBackendTests : IDisposable
{
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Trace_NoBackendCanRun_RunsTheCodeUnchangedAndReportsNothingAsIncomplete()
    {
        var path = _files.Create(64);
        var previous = IoTracer.ReplaceBackend(new UnavailableBackend("no backend in this test"));
        try
        {
            byte[]? read = null;

            var report = IoTracer.Trace(Strategy.All, () => read = File.ReadAllBytes(path));

            Assert.Equal(64, read!.Length);
            Assert.Equal("none", report.Backend);
            Assert.Empty(report.Aggregates);
            Assert.False(report.IsComplete);
            Assert.False(IoTracer.IsSupported);
            Assert.False(IoTracer.TryEnable(out var reason));
            Assert.Equal("no backend in this test", reason);
        }
        finally
        {
            IoTracer.ReplaceBackend(previous);
        }
    }

    [Fact]
    public void LogSelection_UnavailableBackend_LogsOneWarningWithTheReason()
    {
        var logger = new FakeLogger();

        Tracer.LogSelection(new UnavailableBackend("the in-process backend needs Linux"), "the in-process backend needs Linux", logger);

        var record = Assert.Single(logger.Collector.GetSnapshot());
        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Equal("BackendUnavailable", record.Id.Name);
        Assert.Equal("IO tracing is off: the in-process backend needs Linux. Traced code runs unchanged and reports are empty.", record.Message);
    }

    [Fact]
    public void LoggerFactory_SetAfterTheBackendWasChosen_HearsTheChoiceOnce()
    {
        var previous = IoTracer.LoggerFactory;
        var collector = new FakeLogCollector();
        using var factory = LoggerFactory.Create(logging => logging.AddProvider(new FakeLoggerProvider(collector)));
        try
        {
            _ = IoTracer.BackendName;

            IoTracer.LoggerFactory = factory;
            IoTracer.LoggerFactory = factory;

            var record = Assert.Single(collector.GetSnapshot());
            Assert.Equal("IoTrace", record.Category);
            Assert.Equal(OperatingSystem.IsLinux() ? "BackendSelected" : "BackendUnavailable", record.Id.Name);
        }
        finally
        {
            IoTracer.LoggerFactory = previous;
        }
    }

    [Fact]
    public async Task GetStatistics_WhileTwoTracesRun_CountsThemAndReturnsToIdle()
    {
        // Process-wide numbers: this class runs alone, so no other trace is active.
        var idle = IoTracer.GetStatistics();

        var first = IoTracer.Start(Strategy.Summary);
        var second = await Task.Run(() => IoTracer.Start(Strategy.All), TestContext.Current.CancellationToken);
        var busy = IoTracer.GetStatistics();
        second.Stop();
        first.Stop();
        first.Stop();

        Assert.Equal(0, idle.ActiveTraces);
        Assert.Equal(2, busy.ActiveTraces);
        Assert.Equal(0, IoTracer.GetStatistics().ActiveTraces);
        Assert.Equal(0, IoTracer.GetStatistics().AwaitedFds);
    }
}
