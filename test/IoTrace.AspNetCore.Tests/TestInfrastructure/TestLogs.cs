using IoTrace.AspNetCore.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace IoTrace.AspNetCore.Tests.TestInfrastructure;

/// <summary>
/// A <see cref="FakeLogCollector"/> that tests can wait on: reports are logged when a response completes, which
/// can be after the client has read it.
/// </summary>
internal sealed class TestLogs
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly Lock _lock = new();
    private readonly List<(Func<IReadOnlyList<FakeLogRecord>, bool> Condition, TaskCompletionSource Done)> _waiters = [];

    public TestLogs()
    {
        Collector = FakeLogCollector.Create(new FakeLogCollectorOptions { OutputSink = _ => Notify() });
    }

    public FakeLogCollector Collector { get; }

    /// <summary>The <c>RequestTraced</c> events so far.</summary>
    public IReadOnlyList<FakeLogRecord> Reports => [.. Collector.GetSnapshot().Where(IsReport)];

    /// <summary>The events with this event name so far.</summary>
    public IReadOnlyList<FakeLogRecord> Named(string eventName) => [.. Collector.GetSnapshot().Where(r => r.Id.Name == eventName)];

    /// <summary>Waits for the report of the request to <paramref name="path"/>.</summary>
    public async Task<FakeLogRecord> ReportForAsync(string path)
    {
        await WaitAsync(records => records.Any(r => IsReport(r) && r.Fields().Path == path), $"the report of {path}");
        return Reports.Single(r => r.Fields().Path == path);
    }

    /// <summary>Waits until <paramref name="count"/> reports have been logged.</summary>
    public Task WaitForReportsAsync(int count) => WaitAsync(records => records.Count(IsReport) >= count, $"{count} reports");

    /// <summary>Waits for an event with this event name.</summary>
    public async Task<FakeLogRecord> WaitForEventAsync(string eventName)
    {
        await WaitAsync(records => records.Any(r => r.Id.Name == eventName), $"a {eventName} event");
        return Named(eventName)[0];
    }

    private async Task WaitAsync(Func<IReadOnlyList<FakeLogRecord>, bool> condition, string what)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (condition(Collector.GetSnapshot()))
            {
                return;
            }

            _waiters.Add((condition, done));
        }

        try
        {
            await done.Task.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            var seen = string.Join(Environment.NewLine, Collector.GetSnapshot().Select(r => $"{r.Category}[{r.Id}] {r.Message}"));
            throw new TimeoutException($"Timed out after {Timeout} waiting for {what}. Logged:{Environment.NewLine}{seen}");
        }
    }

    // Called after the collector stored the record.
    private void Notify()
    {
        lock (_lock)
        {
            var records = Collector.GetSnapshot();
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition(records))
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private static bool IsReport(FakeLogRecord record) => record.Id == IoTraceMiddlewareLog.RequestTraced;
}
