using System.Diagnostics;
using IoTrace.Attribution;
using IoTrace.Clients;
using IoTrace.Tests.Backends.InProcess;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Tests.Clients;

/// <summary>
/// A client's activities, started and stopped by a source of the test's own (named for each test, so no other listener
/// of the process hears it). The listener is process-wide: these run with the other process-wide tests, alone.
/// </summary>
[Collection(typeof(ProcessWideBackend))]
public sealed class ClientActivitiesTests
{
    private static readonly long s_pastIdleDelay = (long)((ListeningWhileTraced.IdleDelay + TimeSpan.FromSeconds(1)).TotalSeconds * Stopwatch.Frequency);

    private readonly FakeBackend _backend = new();

    [Fact]
    public void Sample_ProducerAndClientActivitiesInATrace_OneRowPerLineWithTheirCountAndServer()
    {
        using var source = NamedSource();
        var session = _backend.Session(Strategy.All);
        using (new IoTraceScope(session))
        {
            for (var i = 0; i < 2; i++)
            {
                _ = source.StartActivity(ActivityKind.Producer, tags: Server(), name: "orders publish"); // the publishes
            }

            _ = source.StartActivity(ActivityKind.Client, tags: Server(), name: "prices request"); // the request
        }

        var report = session.Stop();

        Assert.Equal(
            [("activity", SourceLines.Of("// the publishes"), "orders publish 127.0.0.1:4222", 2L, 0L), ("activity", SourceLines.Of("// the request"), "prices request 127.0.0.1:4222", 1L, 0L)],
            report.Aggregates.OrderBy(static a => a.Line).Select(static a => (a.Probe, a.Line ?? 0, a.Target, a.Calls, a.Bytes)));
    }

    [Fact]
    public void Sample_OperationInATrace_CountedWithoutMakingTheActivity()
    {
        using var source = NamedSource();
        var session = _backend.Session(Strategy.All);
        using (new IoTraceScope(session))
        {
            // Made, it would add trace context to what the client sends.
            Assert.Null(source.StartActivity("orders publish", ActivityKind.Producer));
        }

        var row = Assert.Single(session.Stop().Aggregates);
        Assert.Equal(("orders publish", 1L, TimeSpan.Zero), (row.Target, row.Calls, row.Time));
    }

    [Fact]
    public void Sample_ActivityAnotherListenerMakes_CountedOnce()
    {
        using var source = NamedSource();
        using var other = new ActivityListener
        {
            ShouldListenTo = s => ReferenceEquals(s, source),
            Sample = static (ref _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(other);
        var session = _backend.Session(Strategy.All);
        using (new IoTraceScope(session))
        {
            using var publish = source.StartActivity("orders publish", ActivityKind.Producer);
            Assert.NotNull(publish);
        }

        Assert.Equal(1L, Assert.Single(session.Stop().Aggregates).Calls);
    }

    [Fact]
    public void Sample_InternalOrServerActivityInATrace_NoneMadeNorCharged()
    {
        using var source = NamedSource();
        var session = _backend.Session(Strategy.All);
        using (new IoTraceScope(session))
        {
            Assert.Null(source.StartActivity("serialize", ActivityKind.Internal));
            Assert.Null(source.StartActivity("handle", ActivityKind.Server));
        }

        Assert.Empty(session.Stop().Aggregates);
    }

    [Fact]
    public void Sample_OutsideATrace_NoneMade()
    {
        using var source = NamedSource();
        using (new IoTraceScope(_backend.Session(Strategy.All)))
        {
            Assert.True(source.HasListeners());
        }

        Assert.Null(source.StartActivity("orders publish", ActivityKind.Producer));
    }

    [Fact]
    public void Sample_StrategyWithoutTransfers_NoneMade()
    {
        using var source = NamedSource();
        var session = _backend.Session(Strategy.Setup);
        using (new IoTraceScope(session))
        {
            Assert.Null(source.StartActivity("orders publish", ActivityKind.Producer));
        }

        Assert.Empty(session.Stop().Aggregates);
    }

    [Fact]
    public void Sample_SummaryTrace_CountedWithoutALine()
    {
        using var source = NamedSource();
        var session = _backend.Session(Strategy.Summary);
        using (new IoTraceScope(session))
        {
            _ = source.StartActivity("orders publish", ActivityKind.Producer);
        }

        var row = Assert.Single(session.Stop().Aggregates);
        Assert.Equal(("activity", null, 1L), (row.Probe, row.Line, row.Calls));
    }

    [Fact]
    public void Sample_TagsThatThrow_TheClientGoesOnAndTheReportSaysItIsShort()
    {
        using var source = NamedSource();
        var session = _backend.Session(Strategy.All);
        using (new IoTraceScope(session))
        {
            Assert.Null(source.StartActivity(ActivityKind.Producer, tags: ThrowingTags(), name: "orders publish"));
        }

        var report = session.Stop();
        Assert.False(report.IsComplete);
        Assert.Empty(report.Aggregates);

        static IEnumerable<KeyValuePair<string, object?>> ThrowingTags()
        {
            yield return new("server.address", "127.0.0.1");
            throw new InvalidOperationException("the client's tags failed");
        }
    }

    [Fact]
    public void Add_SourceNotNamedYet_ListenedToFromThen()
    {
        var name = $"IoTrace.Tests.Unnamed.{Guid.NewGuid():N}";
        using var source = new ActivitySource(name);
        using (new IoTraceScope(_backend.Session(Strategy.All)))
        {
            Assert.False(source.HasListeners());
            ClientActivities.Add(name);
            Assert.True(source.HasListeners());
        }
    }

    [Fact]
    public void StopIfIdle_NoTraceForTheIdleDelay_NotListenedToUntilTheNextTrace()
    {
        using var source = NamedSource();
        using (new IoTraceScope(_backend.Session(Strategy.All)))
        {
            Assert.True(source.HasListeners());
        }

        Assert.True(ClientActivities.StopIfIdle(Stopwatch.GetTimestamp() + s_pastIdleDelay));

        // No listener left: a client then builds nothing for its source.
        Assert.False(ClientActivities.IsListening);
        Assert.False(source.HasListeners());
        var session = _backend.Session(Strategy.All);
        using (new IoTraceScope(session))
        {
            Assert.True(source.HasListeners());
            _ = source.StartActivity("orders publish", ActivityKind.Producer);
        }

        Assert.Equal(1L, Assert.Single(session.Stop().Aggregates).Calls);
    }

    [Fact]
    public void StopIfIdle_WhileATraceRuns_KeepsListening()
    {
        using var source = NamedSource();
        using (new IoTraceScope(_backend.Session(Strategy.Summary)))
        {
            Assert.False(ClientActivities.StopIfIdle(Stopwatch.GetTimestamp() + s_pastIdleDelay));
            Assert.True(source.HasListeners());
        }
    }

    [Fact]
    public void StopIfIdle_WithinTheIdleDelayOfTheLastTrace_KeepsListening()
    {
        using var source = NamedSource();
        using (new IoTraceScope(_backend.Session(Strategy.All)))
        {
        }

        Assert.False(ClientActivities.StopIfIdle(Stopwatch.GetTimestamp()));
        Assert.True(source.HasListeners());
    }

    [Theory]
    [InlineData("NATS.Net", true)]
    [InlineData("NATS.Net.Internal", false)]
    [InlineData("MyCompany.Messaging.Orders", true)]
    [InlineData("MyCompany.Messagingx", true)]
    [InlineData("MyCompany.Other", false)]
    [InlineData("Npgsql", false)]
    public void Matches_NamesAndPrefixes_ExactOrByPrefix(string source, bool expected) =>
        Assert.Equal(expected, ClientActivities.Matches(source, ["NATS.Net", "MyCompany.Messaging*"]));

    private static ActivitySource NamedSource()
    {
        var name = $"IoTrace.Tests.Client.{Guid.NewGuid():N}";
        ClientActivities.Add(name);
        return new ActivitySource(name);
    }

    private static KeyValuePair<string, object?>[] Server() => [new("server.address", "127.0.0.1"), new("server.port", 4222)];
}
