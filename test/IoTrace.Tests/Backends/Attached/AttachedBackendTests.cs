using System.Diagnostics;
using IoTrace.Attribution;
using IoTrace.Backends;
using IoTrace.Backends.Attached;
using IoTrace.Tests.Shared;
using IoTrace.Tracing;
using Xunit;

namespace IoTrace.Tests.Backends.Attached;

public sealed class AttachedBackendTests : IDisposable
{
    private readonly RecordingDiagnostics _diagnostics = new();

    public void Dispose() => _diagnostics.Dispose();

    [Fact]
    public void RecorderForNewTrace_BeforeTheAttach_NoneUntilReady()
    {
        using var backend = new TestBackend(_diagnostics);

        Assert.Null(backend.RecorderForNewTrace());
        backend.AllowAttach();
        Assert.True(backend.TryStart(out var reason), reason);

        Assert.Same(backend, backend.RecorderForNewTrace());
        Assert.Equal(1, backend.Attaches);
    }

    [Fact]
    public void TryStart_AttachFails_TheReasonLoggedOnceAndNoRecorder()
    {
        using var backend = new TestBackend(_diagnostics) { AttachFailure = "no program" };
        backend.AllowAttach();

        Assert.False(backend.TryStart(out var first));
        Assert.False(backend.TryStart(out var second));

        Assert.Equal(("no program", "no program"), (first, second));
        Assert.Null(backend.RecorderForNewTrace());
        Assert.Equal(1, backend.Attaches);
        Assert.Equal(["BackendFailed: test: no program; traces fall back to the in-process backend, and those that were running report incomplete"], _diagnostics.Reports);
    }

    [Fact]
    public void TryStart_AttachTakesTooLong_SaysSo()
    {
        using var backend = new TestBackend(_diagnostics, TimeSpan.FromMilliseconds(1));

        Assert.False(backend.TryStart(out var reason));

        Assert.Equal("the test backend did not attach within 0 s", reason);
        backend.AllowAttach();
    }

    [Fact]
    public async Task Stop_WhileAttaching_TheLateAttachmentIsUndone()
    {
        using var backend = new TestBackend(_diagnostics);
        Assert.Null(backend.RecorderForNewTrace());
        await backend.Attaching.Task;

        backend.Stop();
        backend.AllowAttach();
        var late = await backend.Attached.Task;
        await late.WhenDisposed.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Null(backend.Current);
    }

    [Fact]
    public async Task Fail_WhileTracesRun_TheyCompleteIncomplete()
    {
        using var backend = new TestBackend(_diagnostics);
        var (session, stopped) = TraceWaitingForItsFlush(backend);

        backend.FailNow("the program died");
        await stopped;

        Assert.False(session.Stop().IsComplete);
        Assert.True(backend.Current is null && backend.LastAttachment!.Disposed);
        Assert.Null(backend.RecorderForNewTrace());
    }

    [Fact]
    public async Task Complete_TheTracesFlush_CompleteAndWhole()
    {
        using var backend = new TestBackend(_diagnostics);
        var (session, stopped) = TraceWaitingForItsFlush(backend);

        backend.Flush();
        await stopped;

        Assert.True(session.Stop().IsComplete);
    }

    [Fact]
    public async Task ExpireOverdueTraces_AStoppedTracesFlushNeverCame_ItCompletesIncompleteAndARunningOneStays()
    {
        using var backend = new TestBackend(_diagnostics);
        var (session, stopped) = TraceWaitingForItsFlush(backend);
        var running = backend.Session();
        backend.OnTraceStarted(running);

        backend.Expire(TimeSpan.Zero);
        await stopped;

        Assert.False(session.Stop().IsComplete);
        Assert.Equal([running.Id], backend.Waiting);
    }

    [Fact]
    public void OnTraceStarted_NotReady_TheTraceIsIncomplete()
    {
        using var backend = new TestBackend(_diagnostics);
        var session = backend.Session();

        backend.OnTraceStarted(session);

        Assert.False(session.Stop().IsComplete);
        backend.AllowAttach();
    }

    /// <summary>Attaches, then starts and stops a trace, whose report waits for a flush.</summary>
    private static (TraceSession Session, Task Stopped) TraceWaitingForItsFlush(TestBackend backend)
    {
        backend.AllowAttach();
        Assert.True(backend.TryStart(out var reason), reason);
        var session = backend.Session();
        backend.OnTraceStarted(session);
        return (session, backend.OnTraceStopped(session));
    }

    private sealed class TestTrace(TraceSession session) : AttachedTrace(session);

    private sealed class TestAttachment : IDisposable
    {
        private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Disposed => _disposed.Task.IsCompleted;

        public Task WhenDisposed => _disposed.Task;

        public void Dispose() => _disposed.TrySetResult();
    }

    /// <summary>Attaches when the test allows it; flushes when the test says so.</summary>
    private sealed class TestBackend(IBackendDiagnostics diagnostics, TimeSpan? attachTimeout = null)
        : AttachedBackend<TestAttachment, TestTrace>(diagnostics, attachTimeout ?? TimeSpan.FromSeconds(30)), IDisposable
    {
        private readonly ManualResetEventSlim _allowed = new();
        private int _attaches;

        public override string Name => "test";

        public override BackendCapabilities Capabilities => BackendCapabilities.ReportsLate;

        public string? AttachFailure { get; init; }

        public int Attaches => Volatile.Read(ref _attaches);

        public TestAttachment? LastAttachment { get; private set; }

        public TestAttachment? Current => Attachment;

        public TaskCompletionSource Attaching { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<TestAttachment> Attached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void AllowAttach() => _allowed.Set();

        public void FailNow(string reason) => Fail(reason);

        public void Expire(TimeSpan timeout) => ExpireOverdueTraces(timeout);

        public long[] Waiting => [.. Traces.Keys];

        public void Flush()
        {
            foreach (var trace in Traces.Values)
            {
                Complete(trace);
            }
        }

        public TraceSession Session() => new(Strategy.All, IoTraceFeatures.Calls, this, new CallSiteResolver([]), "/");

        public override Task OnTraceStopped(TraceSession session)
        {
            if (!Traces.TryGetValue(session.Id, out var trace))
            {
                return Task.CompletedTask;
            }

            trace.StopTimestamp = Stopwatch.GetTimestamp();
            return trace.Flushed.Task;
        }

        public override string? DescribeFd(int fd, long generation) => null;

        public void Dispose()
        {
            _allowed.Set();
            Stop();
        }

        protected override TestTrace CreateTrace(TraceSession session) => new(session);

        protected override TestAttachment? Attach(out string reason)
        {
            Interlocked.Increment(ref _attaches);
            Attaching.TrySetResult();
            _allowed.Wait();
            if (AttachFailure is { } failure)
            {
                reason = failure;
                return null;
            }

            reason = string.Empty;
            var attachment = new TestAttachment();
            LastAttachment = attachment;

            // Handed over once the attach returns: the base publishes or undoes it right after.
            Attached.TrySetResult(attachment);
            return attachment;
        }
    }
}
