using IoTrace.AspNetCore.Reporting;

namespace IoTrace.Testing;

/// <summary>
/// Collects the report of every request an app's IO tracing middleware traces, for a test to assert on, as
/// <c>FakeLogCollector</c> collects log records: register it with <c>services.AddIoTraceCollector()</c> and take it from
/// the app's services. Every traced request is collected, whatever the log's thresholds; a request the middleware does
/// not trace (outside its paths, left out by sampling) is not.
/// </summary>
public sealed class IoTraceCollector
{
    private readonly Lock _lock = new();
    private readonly List<IoTraceRecord> _records = [];
    private readonly List<(Func<IoTraceRecord, bool> Match, TaskCompletionSource<IoTraceRecord> Found)> _waiters = [];

    internal IoTraceCollector()
    {
    }

    /// <summary>How many records the collector holds.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _records.Count;
            }
        }
    }

    /// <summary>The latest record.</summary>
    /// <exception cref="InvalidOperationException">No request has been traced yet.</exception>
    public IoTraceRecord LatestRecord
    {
        get
        {
            lock (_lock)
            {
                return _records.Count > 0 ? _records[^1] : throw new InvalidOperationException("No request has been traced yet.");
            }
        }
    }

    /// <summary>The records so far, oldest first.</summary>
    /// <param name="clear">Whether to remove them from the collector.</param>
    /// <returns>The records.</returns>
    public IReadOnlyList<IoTraceRecord> GetSnapshot(bool clear = false)
    {
        lock (_lock)
        {
            IoTraceRecord[] snapshot = [.. _records];
            if (clear)
            {
                _records.Clear();
            }

            return snapshot;
        }
    }

    /// <summary>Removes every record.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _records.Clear();
        }
    }

    /// <summary>
    /// The first record of the request to <paramref name="path"/>, once it is collected: a report is whole only after
    /// the response completed (with a kernel backend, after its next flush, about 40 ms later), so a test that has its
    /// response awaits the report here. Gives up after <see cref="WaitTimeout"/>.
    /// </summary>
    /// <param name="path">The request's path, as it reached the middleware.</param>
    /// <returns>The record.</returns>
    /// <exception cref="TimeoutException">No such request was traced within <see cref="WaitTimeout"/>.</exception>
    public Task<IoTraceRecord> WaitForRecordAsync(string path) => WaitForRecordAsync(path, CancellationToken.None);

    /// <inheritdoc cref="WaitForRecordAsync(string)"/>
    /// <param name="path">The request's path, as it reached the middleware.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public Task<IoTraceRecord> WaitForRecordAsync(string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        return WaitForRecordAsync(r => string.Equals(r.Path, path, StringComparison.Ordinal), cancellationToken);
    }

    /// <summary>The first record that <paramref name="match"/> accepts, once it is collected. Gives up after <see cref="WaitTimeout"/>.</summary>
    /// <param name="match">Which record to wait for.</param>
    /// <returns>The record.</returns>
    /// <exception cref="TimeoutException">No such request was traced within <see cref="WaitTimeout"/>.</exception>
    public Task<IoTraceRecord> WaitForRecordAsync(Func<IoTraceRecord, bool> match) => WaitForRecordAsync(match, CancellationToken.None);

    /// <inheritdoc cref="WaitForRecordAsync(Func{IoTraceRecord, bool})"/>
    /// <param name="match">Which record to wait for.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async Task<IoTraceRecord> WaitForRecordAsync(Func<IoTraceRecord, bool> match, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(match);
        TaskCompletionSource<IoTraceRecord> found;
        lock (_lock)
        {
            if (_records.Find(r => match(r)) is { } record)
            {
                return record;
            }

            found = new TaskCompletionSource<IoTraceRecord>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, found));
        }

        try
        {
            return await found.Task.WaitAsync(WaitTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No traced request matched within {WaitTimeout.TotalSeconds:0.#} s; traced: {string.Join("; ", GetSnapshot())}.");
        }
        finally
        {
            lock (_lock)
            {
                _waiters.RemoveAll(w => w.Found == found);
            }
        }
    }

    /// <summary>How long a wait for a record lasts at most, so a test that never gets one fails rather than hangs. Defaults to 10 seconds.</summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Adds a record (the middleware's observer, or a test of the collector itself).</summary>
    internal void Add(IoTraceRecord record)
    {
        List<TaskCompletionSource<IoTraceRecord>>? matched = null;
        lock (_lock)
        {
            _records.Add(record);
            foreach (var (match, found) in _waiters)
            {
                if (match(record))
                {
                    (matched ??= []).Add(found);
                }
            }
        }

        foreach (var found in matched ?? [])
        {
            found.TrySetResult(record);
        }
    }

    /// <summary>The middleware's side: every traced request becomes a record.</summary>
    internal sealed class Observer(IoTraceCollector collector) : ITracedRequestObserver
    {
        public void OnTraced(in TracedRequest request) =>
            collector.Add(new IoTraceRecord(request.Method, request.Path, request.Route, request.StatusCode, request.Report));
    }
}
