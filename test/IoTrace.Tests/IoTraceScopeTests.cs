using IoTrace.Tests.Backends.InProcess;
using IoTrace.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Tests;

/// <summary>Its scopes count in the process's statistics, so it runs with the other process-wide tests, alone.</summary>
[Collection(typeof(ProcessWideBackend))]
public sealed class IoTraceScopeTests
{
    private static readonly AsyncLocal<object?> s_requestState = new();

    [Fact]
    public async Task StopAsync_WhileTheBackendFlushes_DoesNotKeepTheCallersExecutionContextAlive()
    {
        var backend = new FakeBackend("flushing", reportsLate: true);
        var idle = IoTracer.GetStatistics().ActiveTraces;

        // A request's flow: state in its ExecutionContext, a trace stopped while the backend still flushes, the flow
        // gone. What the wait holds stays alive until the flush, and under load thousands of traces wait at once.
        var (report, requestState) = await Task.Run(() =>
        {
            var state = new byte[4096];
            s_requestState.Value = state;
            var scope = StartScope(backend);
            return (scope.StopAsync().AsTask(), new WeakReference(state));
        });
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.False(report.IsCompleted);
        Assert.False(requestState.IsAlive, "The pending wait keeps the caller's ExecutionContext alive.");
        backend.FinishFlush();
        Assert.Equal("flushing", (await report).Backend);
        Assert.Equal(idle, IoTracer.GetStatistics().ActiveTraces);
    }

    private static IoTraceScope StartScope(FakeBackend backend) => new(backend.Session(Strategy.Summary, IoTraceFeatures.Calls));
}
