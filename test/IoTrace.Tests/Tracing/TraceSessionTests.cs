using IoTrace.Attribution;
using IoTrace.Clients;
using IoTrace.Tracing;
using IoTrace.Probes;
using IoTrace.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Tests.Tracing;

/// <summary>
/// What a trace makes of the facts a backend delivers, whichever backend delivers them: fd lives by number and
/// generation, the target a life ends with, the line a call without one takes (its opener's, its HttpClient request's).
/// </summary>
public sealed class TraceSessionTests
{
    private static readonly SourceLocation s_site = new("/app/Program.cs", 12, "Main", isApplication: true);
    private static readonly SourceLocation s_other = new("/app/Program.cs", 20, "Main", isApplication: true);
    private static readonly SourceLocation s_framework = new(null, null, "System.IO.FileStream.Read", isApplication: false);
    private static readonly int s_fcntl = ProbeCatalog.IndexOf("fcntl");
    private static readonly int s_connect = ProbeCatalog.IndexOf("connect");
    private static readonly int s_pread = ProbeCatalog.IndexOf("pread64");
    private static readonly int s_openat = ProbeCatalog.IndexOf("openat");
    private static readonly int s_recvfrom = ProbeCatalog.IndexOf("recvfrom");
    private static readonly int s_close = ProbeCatalog.IndexOf("close");
    private static readonly int s_newfstatat = ProbeCatalog.IndexOf("newfstatat");

    private readonly FakeBackend _backend = new();

    [Fact]
    public void Charge_ConnectAfterCallsOnTheSameLife_EarlierCallsReportThePeer()
    {
        var session = NewSession();
        session.Charge(Call(s_fcntl, 7, 0, site: s_site));
        session.Charge(Call(s_connect, 7, 0, "127.0.0.1:80", s_site));

        var report = session.Stop();

        Assert.Equal([("connect", "127.0.0.1:80", 1L), ("fcntl", "127.0.0.1:80", 1L)], report.Aggregates.Select(a => (a.Probe, a.Target, a.Calls)));
    }

    [Fact]
    public void Stop_TwoLivesOfOneFd_SameTargetMergedOtherTargetApart()
    {
        var session = NewSession();
        foreach (var (generation, path, bytes) in new[] { (0L, "/data/a", 100L), (1L, "/data/a", 200L), (2L, "/data/b", 400L) })
        {
            session.Charge(Call(s_openat, 9, generation, path, s_site));
            session.Charge(Call(s_pread, 9, generation, site: s_site, bytes: bytes));
            session.Charge(Call(s_close, 9, generation, site: s_site));
        }

        var report = session.Stop();

        Assert.Equal([("/data/a", 2L, 300L), ("/data/b", 1L, 400L)], report.Aggregates.Where(a => a.Probe == "pread64").Select(a => (a.Target, a.Calls, a.Bytes)));
    }

    [Fact]
    public void Stop_CallWithoutLineOnAnFdALineOpened_TakesTheOpenersLineWhicheverCameFirst()
    {
        var session = NewSession();

        // A kernel flush delivers in no order: the read on the thread pool before the open that named the file.
        session.Charge(Call(s_pread, 5, 3, site: s_framework, bytes: 64));
        session.Charge(Call(s_openat, 5, 3, "/data/c", s_site));

        var report = session.Stop();

        Assert.Equal([("openat", 12, "/data/c"), ("pread64", 12, "/data/c")], report.Aggregates.Select(a => (a.Probe, a.Line!.Value, a.Target!)));
    }

    [Fact]
    public void Stop_StackTheBackendCouldNotWalkYet_KeepsNoLineRatherThanTheOpeners()
    {
        var session = NewSession();
        session.Charge(Call(s_openat, 5, 0, "/data/app.db", s_site));

        session.Charge(Call(s_pread, 5, 0, site: SourceLocation.StackIncomplete, bytes: 4096));

        var read = Assert.Single(session.Stop().Aggregates, a => a.Probe == "pread64");
        Assert.Equal((null, null, "/data/app.db"), (read.File, read.Line, read.Target));
    }

    [Fact]
    public void Stop_SocketCallsWithoutLine_TakeTheLineOfTheOneHttpClientRequestToTheirPeer()
    {
        var session = NewSession();
        session.RecordHttpRequest("127.0.0.1", 8080, s_other);
        session.Charge(Call(s_connect, 11, 0, "127.0.0.1:8080", s_framework));

        session.Charge(Call(s_recvfrom, 11, 0, site: s_framework, bytes: 512));

        Assert.All(session.Stop().Aggregates, a => Assert.Equal((20, "127.0.0.1:8080"), (a.Line!.Value, a.Target!)));
    }

    [Fact]
    public void Stop_PeerRequestedFromTwoLines_KeepsNoLine()
    {
        var session = NewSession();
        session.RecordHttpRequest("127.0.0.1", 8080, s_site);
        session.RecordHttpRequest("127.0.0.1", 8080, s_other);

        session.Charge(Call(s_recvfrom, 11, 0, "127.0.0.1:8080", s_framework, bytes: 512));

        Assert.Null(Assert.Single(session.Stop().Aggregates).Line);
    }

    [Fact]
    public void Stop_NameResolutionCallsWithoutLine_TakeTheLineOfTheTracesResolutions()
    {
        var session = NewSession();
        session.RecordNameResolution(s_other);
        session.RecordNameResolution(s_other);

        session.Charge(Call(s_openat, 14, 0, "/etc/hosts", SourceLocation.NameResolution));
        session.Charge(Call(s_pread, 14, 0, site: SourceLocation.NameResolution, bytes: 147));
        session.Charge(Call(s_newfstatat, -1, 0, "/etc/krb5.conf", s_framework));

        var rows = session.Stop().Aggregates;
        Assert.Equal([("newfstatat", null), ("openat", 20), ("pread64", 20)], rows.Select(static a => (a.Probe, a.Line)).OrderBy(static r => r.Probe));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Stop_ResolutionsFromTwoLinesOrOneWithout_KeepNoLine(bool secondHasALine)
    {
        var session = NewSession();
        session.RecordNameResolution(s_site);
        session.RecordNameResolution(secondHasALine ? s_other : null);

        session.Charge(Call(s_openat, 14, 0, "/etc/hosts", SourceLocation.NameResolution));

        Assert.Null(Assert.Single(session.Stop().Aggregates).Line);
    }

    [Fact]
    public void Charge_CallOnAnFdOpenedBeforeTheTrace_AsksTheBackendWhatItIsOnce()
    {
        _backend.Fds[4] = "/var/log/app.log";
        var session = NewSession();

        session.Charge(Call(s_pread, 4, 0, site: s_site, bytes: 10));
        _backend.Fds[4] = "/somewhere/else";
        session.Charge(Call(s_pread, 4, 0, site: s_site, bytes: 10));

        var read = Assert.Single(session.Stop().Aggregates);
        Assert.Equal(("/var/log/app.log", 2L, 20L), (read.Target, read.Calls, read.Bytes));
    }

    [Fact]
    public void Charge_CallThatFoundTheFdClosed_DoesNotAskWhatTheNumberIsNow()
    {
        _backend.Fds[4] = "/reused/by/another/request";
        var session = NewSession();

        session.Charge(Call(s_pread, 4, 0, site: s_site) with { FdMayBeOpen = false });

        Assert.Null(Assert.Single(session.Stop().Aggregates).Target);
    }

    [Fact]
    public void NameFd_BeforeTheOpenIsCharged_TheOpenKeepsTheName()
    {
        var session = NewSession();

        session.NameFd(6, 2, "/data/named-first");
        session.Charge(Call(s_openat, 6, 2, target: null, s_site));

        Assert.Equal("/data/named-first", Assert.Single(session.Stop().Aggregates).Target);
    }

    [Fact]
    public void Charge_ProbeTheStrategyDoesNotRecord_StillNamesItsFdsLife()
    {
        var session = NewSession(Strategy.Read);

        session.Charge(Call(s_openat, 8, 0, "/data/d", s_site));
        session.Charge(Call(s_pread, 8, 0, site: s_framework, bytes: 7));

        var read = Assert.Single(session.Stop().Aggregates);
        Assert.Equal(("pread64", "/data/d", 12), (read.Probe, read.Target!, read.Line!.Value));
    }

    [Fact]
    public void Charge_StatByPath_ReportsThePathWithoutAnFd()
    {
        var session = NewSession();

        session.Charge(Call(s_newfstatat, -1, 0, "/etc/hosts", s_site));

        var stat = Assert.Single(session.Stop().Aggregates);
        Assert.Equal((null, "/etc/hosts"), (stat.Fd, stat.Target));
    }

    [Fact]
    public void Charge_SummaryTrace_CountsCallsPerProbeWithoutContext()
    {
        var session = NewSession(Strategy.Summary);

        session.Charge(IoCall.Counted(s_pread, 3, 300, 0, 0));
        session.Charge(Call(s_pread, 4, 0, "/ignored", s_site, bytes: 100));

        var read = Assert.Single(session.Stop().Aggregates);
        Assert.Equal(("pread64", 4L, 400L, null, null), (read.Probe, read.Calls, read.Bytes, read.Target, read.Line));
    }

    [Fact]
    public void Stop_CallWithoutLineOnAnFdOneLineUsed_TakesThatLine()
    {
        var session = NewSession();
        session.Charge(Call(s_recvfrom, 5, 0, site: s_site, bytes: 0));
        session.Charge(Call(s_recvfrom, 5, 0, site: s_framework, bytes: 1_096));

        var report = session.Stop();

        Assert.Equal([(12, 1_096L)], report.Aggregates.Select(static a => (a.Line!.Value, a.Bytes)));
    }

    [Fact]
    public void Stop_CallWithoutLineOnAnFdTwoLinesUsed_KeepsNoLine()
    {
        var session = NewSession();
        session.Charge(Call(s_recvfrom, 5, 0, site: s_site));
        session.Charge(Call(s_recvfrom, 5, 0, site: s_other));
        session.Charge(Call(s_recvfrom, 5, 0, site: s_framework, bytes: 1_096));

        var report = session.Stop();

        Assert.Equal([(null, 1_096L), (12, 0L), (20, 0L)], report.Aggregates.Select(static a => (a.Line, a.Bytes)).OrderBy(static r => r.Line ?? 0));
    }

    [Fact]
    public void Stop_SharedConnectionUsed_ReportsItsCallsSinceTheFirstUseApartFromTheTraces()
    {
        var connection = new SharedConnection(77, 0, "127.0.0.1:6379");
        connection.Count(s_recvfrom, 1, 100, 0);
        var session = NewSession();
        session.Charge(Call(s_pread, 9, 0, "/data/a", s_site, bytes: 10));

        session.UseSharedConnection(connection);
        connection.Count(s_recvfrom, 1, 200, 0);
        session.UseSharedConnection(connection);
        connection.Count(s_recvfrom, 1, 300, 0);
        Assert.True(connection.InUse);
        var report = session.Stop();

        Assert.False(connection.InUse);
        Assert.Equal([("recvfrom", "(shared connection)", 77, "127.0.0.1:6379", 2L, 500L)],
            report.SharedAggregates.Select(static a => (a.Probe, a.Method, a.Fd!.Value, a.Target, a.Calls, a.Bytes)));
        Assert.Equal((1L, 10L), (report.TotalCalls, report.TotalBytes));
    }

    [Fact]
    public void Stop_SharedConnectionOfAProbeTheStrategyLeavesOut_NoRow()
    {
        var connection = new SharedConnection(77, 0, "127.0.0.1:6379");
        var session = NewSession(Strategy.Write);

        session.UseSharedConnection(connection);
        connection.Count(s_recvfrom, 1, 300, 0);
        var report = session.Stop();

        Assert.Empty(report.SharedAggregates);
    }

    [Fact]
    public void Stop_LinelessReadsOnTheSocketOfAUsedMultiplexedConnection_JoinItsSharedRows()
    {
        // A kernel backend charges an HTTP/2 connection's loops, in the opener's flow, to the opener without a line.
        HttpClientRequests.ConnectionEstablished(-7, 2, "127.0.0.1", 9);
        var connection = new SharedConnection(77, 0, "127.0.0.1:9");
        var session = NewSession();
        session.UseSharedConnection(connection);
        session.Charge(Call(s_connect, 77, 0, "127.0.0.1:9", s_framework));
        session.Charge(Call(s_recvfrom, 77, 0, site: s_framework, bytes: 40));
        connection.Count(s_recvfrom, 1, 60, 0);

        var report = session.Stop();

        Assert.Equal(["connect"], report.Aggregates.Select(static a => a.Probe));
        Assert.Equal([("recvfrom", 2L, 100L)], report.SharedAggregates.Select(static a => (a.Probe, a.Calls, a.Bytes)));
    }

    private TraceSession NewSession(Strategy strategy = Strategy.All) =>
        _backend.Session(strategy, IoTraceFeatures.Calls | IoTraceFeatures.Bytes, "/app");

    private static IoCall Call(int probe, int fd, long generation, string? target = null, SourceLocation? site = null, long bytes = 0) =>
        new(probe, fd, generation, target, site, 1, bytes, 0, 0);
}
