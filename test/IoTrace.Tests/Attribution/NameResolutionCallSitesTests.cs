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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ResolutionStart_AsynchronousResolutionInATrace_ItsCallsTakeItsLine(bool reportsLate)
    {
        var backend = new FakeBackend("fake", reportsLate);
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
}
