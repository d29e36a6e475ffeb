using IoTrace.Core;
using Xunit;

namespace IoTrace.Tests.Core;

/// <summary>How a trace keeps calls on fds: each call reports the target its fd's life ends the trace with.</summary>
public sealed class TraceSessionTests
{
    private static readonly SourceLocation s_site = new("/app/Program.cs", 12, "Main", isApplication: true);
    private static readonly int s_fcntl = Probes.IndexOf("fcntl");
    private static readonly int s_connect = Probes.IndexOf("connect");
    private static readonly int s_pread = Probes.IndexOf("pread64");

    [Fact]
    public void NameFd_AfterCallsOnTheSameLife_EarlierCallsReportTheNewName()
    {
        var session = NewSession();
        var life = session.OpenFd(7, target: null, s_site);
        session.Record(s_fcntl, s_site, 7, null, 0, 1, 0, life);
        session.Record(s_connect, s_site, 7, null, 0, 1, 0, session.NameFd(7, "127.0.0.1:80", s_site));

        var report = session.Stop();

        Assert.Equal([("connect", "127.0.0.1:80", 1L), ("fcntl", "127.0.0.1:80", 1L)], report.Aggregates.Select(a => (a.Probe, a.Target, a.Calls)));
    }

    [Fact]
    public void Stop_TwoLivesOfOneFd_SameTargetMergedOtherTargetApart()
    {
        var session = NewSession();
        session.Record(s_pread, s_site, 9, null, 100, 1, 0, session.OpenFd(9, "/data/a", s_site));
        session.ForgetFd(9);
        session.Record(s_pread, s_site, 9, null, 200, 1, 0, session.OpenFd(9, "/data/a", s_site));
        session.ForgetFd(9);
        session.Record(s_pread, s_site, 9, null, 400, 1, 0, session.OpenFd(9, "/data/b", s_site));

        var report = session.Stop();

        Assert.Equal([("/data/a", 2L, 300L), ("/data/b", 1L, 400L)], report.Aggregates.Select(a => (a.Target, a.Calls, a.Bytes)));
    }

    private static TraceSession NewSession() => new(Strategy.All, IoTraceFeatures.Calls | IoTraceFeatures.Bytes, "test", new CallSiteResolver([]), "/app");
}
