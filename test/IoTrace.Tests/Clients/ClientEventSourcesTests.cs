using IoTrace.Attribution;
using IoTrace.Clients;
using IoTrace.Probes;
using IoTrace.Tests.Shared;
using IoTrace.Tracing;
using Xunit;

namespace IoTrace.Tests.Clients;

/// <summary>What a client library reports of a trace's requests is charged when the trace stops, and never breaks it.</summary>
public sealed class ClientEventSourcesTests
{
    private static readonly SourceLocation s_site = new("/app/Program.cs", 30, "Main", isApplication: true);
    private static readonly int s_redis = ProbeCatalog.IndexOf("redis");

    private readonly FakeBackend _backend = new();

    [Fact]
    public void ChargeAll_SourceWithCommandsOfTheTrace_ReportedOnTheirLineWithoutBytes()
    {
        var session = _backend.Session(Strategy.All, IoTraceFeatures.All, "/app");
        ClientEventSources.Add(new FakeSource(session, s =>
        {
            s.Charge(new IoCall(s_redis, -1, 0, "GET 127.0.0.1:6379", s_site, 1, 0, 100, 0));
            s.Charge(new IoCall(s_redis, -1, 0, "GET 127.0.0.1:6379", s_site, 1, 0, 100, 0));
        }));

        var report = session.Stop();

        var row = Assert.Single(report.Aggregates);
        Assert.Equal(("redis", "Program.cs", 30, "GET 127.0.0.1:6379", 2L, 0L), (row.Probe, row.File, row.Line!.Value, row.Target, row.Calls, row.Bytes));
        // A command's bytes are not known: its rows show time and calls only.
        Assert.All(report.ToString().Split('\n').Where(static l => l.Contains("redis", StringComparison.Ordinal)), static l => Assert.DoesNotContain("bytes", l, StringComparison.Ordinal));
    }

    [Fact]
    public void ChargeAll_SourceThrows_ReportIncompleteAndTheTraceStops()
    {
        var session = _backend.Session(Strategy.All, IoTraceFeatures.All, "/app");
        ClientEventSources.Add(new FakeSource(session, _ => throw new InvalidOperationException("the client's profiler failed")));

        var report = session.Stop();

        Assert.False(report.IsComplete);
        Assert.Empty(report.Aggregates);
    }

    /// <summary>Charges <paramref name="charge"/> to one trace only: the sources are the process's, shared with other tests.</summary>
    private sealed class FakeSource(TraceSession trace, Action<TraceSession> charge) : IClientEventSource
    {
        public void ChargeTo(TraceSession session)
        {
            if (ReferenceEquals(session, trace))
            {
                charge(session);
            }
        }
    }
}
