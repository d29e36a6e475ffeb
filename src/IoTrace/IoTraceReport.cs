namespace IoTrace;

/// <summary>
/// What a trace recorded: one <see cref="IoAggregate"/> per probe, call site and file descriptor, plus totals.
/// </summary>
public sealed class IoTraceReport
{
    /// <summary>Creates a report; totals are computed from <paramref name="aggregates"/>.</summary>
    /// <param name="strategy">The strategy the trace ran with.</param>
    /// <param name="backend">The name of the backend that recorded it.</param>
    /// <param name="elapsed">The wall time between the start and the end of the trace.</param>
    /// <param name="aggregates">The aggregates.</param>
    /// <param name="isComplete"><see langword="false"/> when the backend may have missed calls.</param>
    /// <param name="features">What the aggregates measured; calls always.</param>
    /// <param name="sharedAggregates">What connections the trace shared with others did while it ran (<see cref="SharedAggregates"/>); none by default.</param>
    public IoTraceReport(Strategy strategy, string backend, TimeSpan elapsed, IReadOnlyList<IoAggregate> aggregates, bool isComplete = true, IoTraceFeatures features = IoTraceFeatures.All, IReadOnlyList<IoAggregate>? sharedAggregates = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(aggregates);
        Strategy = strategy;
        Backend = backend;
        Elapsed = elapsed;
        Aggregates = aggregates;
        IsComplete = isComplete;
        Features = features | IoTraceFeatures.Calls;
        SharedAggregates = sharedAggregates ?? [];
        foreach (var aggregate in aggregates)
        {
            TotalCalls += aggregate.Calls;
            TotalBytes += aggregate.Bytes;
            TotalTime += aggregate.Time;
            TotalCpu += aggregate.Cpu;
            TotalWait += aggregate.Wait;
        }
    }

    /// <summary>The strategy the trace ran with.</summary>
    public Strategy Strategy { get; }

    /// <summary>What the aggregates measured. Features left out read as zero and formatters omit them.</summary>
    public IoTraceFeatures Features { get; }

    /// <summary>The backend that recorded the trace (<c>inprocess</c>, or <c>none</c> where no backend can run).</summary>
    public string Backend { get; }

    /// <summary>The wall time between the start and the end of the trace.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary><see langword="false"/> when the backend failed during the trace and calls may be missing.</summary>
    public bool IsComplete { get; }

    /// <summary>The aggregates, ordered by file, line, probe and fd.</summary>
    public IReadOnlyList<IoAggregate> Aggregates { get; }

    /// <summary>
    /// The calls made on connections the trace shared with other requests (StackExchange.Redis's multiplexed
    /// connection), outside the trace's flow, from the trace's first use of the connection to its end: whichever request
    /// they served, so they are not in <see cref="Aggregates"/> nor in the totals. One per connection and probe, without
    /// a line. Empty where the backend cannot count them, or no shared connection was used.
    /// </summary>
    public IReadOnlyList<IoAggregate> SharedAggregates { get; }

    /// <summary>The number of calls in all aggregates.</summary>
    public long TotalCalls { get; }

    /// <summary>The bytes read and written in all aggregates.</summary>
    public long TotalBytes { get; }

    /// <summary>The wall time inside all calls.</summary>
    public TimeSpan TotalTime { get; }

    /// <summary>The on-CPU time inside all calls.</summary>
    public TimeSpan TotalCpu { get; }

    /// <summary>The time all calls waited off CPU (see <see cref="IoAggregate.Wait"/>).</summary>
    public TimeSpan TotalWait { get; }

    /// <summary>Formats the report with the named formatter.</summary>
    /// <param name="formatter">A built-in or registered formatter name; defaults to <c>default</c>.</param>
    /// <returns>The formatted text.</returns>
    public string ToString(string formatter)
    {
        using var writer = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        IoTraceFormatters.Get(formatter)(writer, this);
        return writer.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => ToString(IoTraceFormatters.DefaultName);
}
