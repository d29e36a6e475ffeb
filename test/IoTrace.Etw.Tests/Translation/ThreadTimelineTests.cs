using IoTrace.Backends;
using IoTrace.Etw.Translation;
using IoTrace.Tests.Shared;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace IoTrace.Etw.Tests.Translation;

public sealed class ThreadTimelineTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly FakeBackend _backend = new("etw", reportsLate: true, BackendCapabilities.CountsWindowsOperations);
    private int _thread = 1;

    [Fact]
    public void TraceAt_TimesAroundEachChange_TheTraceRunningThen()
    {
        var timeline = new ThreadTimeline(_time, () => _thread);
        var first = _backend.Session();
        var second = _backend.Session();
        var before = _time.GetTimestamp();
        Step();
        timeline.Publish(first);
        var inFirst = Step();
        Step();
        timeline.Publish(second);
        var inSecond = Step();
        Step();
        timeline.Publish(null);
        var after = Step();

        Assert.Equal([null, first, second, null], new[] { before, inFirst, inSecond, after }.Select(t => timeline.TraceAt(1, t)));
        Assert.Null(timeline.TraceAt(2, inFirst));
    }

    [Fact]
    public void TraceAt_TwoThreads_EachItsOwn()
    {
        var timeline = new ThreadTimeline(_time, () => _thread);
        var first = _backend.Session();
        var second = _backend.Session();
        timeline.Publish(first);
        _thread = 2;
        timeline.Publish(second);
        var now = Step();

        Assert.Equal((first, second), (timeline.TraceAt(1, now), timeline.TraceAt(2, now)));
    }

    [Fact]
    public void ForgetBefore_KeepsWhatEachThreadRanThenAndForgetsIdleThreads()
    {
        var timeline = new ThreadTimeline(_time, () => _thread);
        var running = _backend.Session();
        timeline.Publish(running);
        _thread = 2;
        timeline.Publish(_backend.Session());
        Step();
        timeline.Publish(null);
        var now = Step();

        timeline.ForgetBefore(now);

        Assert.Equal((running, null), (timeline.TraceAt(1, now), timeline.TraceAt(2, now)));

        // A forgotten thread starts a new record when its flow changes again.
        timeline.Publish(running);
        Assert.Same(running, timeline.TraceAt(2, Step()));
    }

    private long Step()
    {
        _time.Advance(TimeSpan.FromTicks(10));
        return _time.GetTimestamp();
    }
}
