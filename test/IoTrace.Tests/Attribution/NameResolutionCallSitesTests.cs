using System.Net;
using IoTrace.Attribution;
using IoTrace.Probes;
using IoTrace.Tests.Backends.InProcess;
using IoTrace.Tests.Shared;
using IoTrace.Tracing;
using Xunit;

namespace IoTrace.Tests.Attribution;

/// <summary>The listener is process-wide: these run with the other process-wide tests, alone.</summary>
[Collection(typeof(ProcessWideBackend))]
public sealed class NameResolutionCallSitesTests
{
    private static readonly int s_openat = ProbeCatalog.IndexOf("openat");

    [Fact]
    public async Task ResolutionStart_AsynchronousInALateBackendsTrace_ItsCallsTakeItsLine()
    {
        var backend = new FakeBackend("late", reportsLate: true);
        var session = backend.Session(Strategy.All);
        var scope = new IoTraceScope(session);

        _ = Dns.GetHostAddresses("localhost"); // synchronous: its calls have this line on their own stacks
        _ = await Dns.GetHostAddressesAsync("localhost", TestContext.Current.CancellationToken); // the asynchronous resolution
        session.Charge(new IoCall(s_openat, 14, 0, "/etc/hosts", SourceLocation.NameResolution, 1, 0, 0, 0));

        Assert.True(NameResolutionCallSites.IsListening);
        var stopping = scope.StopAsync();
        backend.FinishFlush();
        var open = Assert.Single((await stopping).Aggregates);
        Assert.Equal(SourceLines.Of("// the asynchronous resolution"), open.Line);
    }

    [Fact]
    public async Task ResolutionStart_InAnInProcessTrace_NotNoted()
    {
        NameResolutionCallSites.OnLateContextTraceStarted();
        var backend = new FakeBackend("in flow");
        var session = backend.Session(Strategy.All);
        var scope = new IoTraceScope(session);

        _ = await Dns.GetHostAddressesAsync("localhost", TestContext.Current.CancellationToken);
        session.Charge(new IoCall(s_openat, 14, 0, "/etc/hosts", SourceLocation.NameResolution, 1, 0, 0, 0));

        Assert.Null(Assert.Single((await scope.StopAsync()).Aggregates).Line);
    }
}
