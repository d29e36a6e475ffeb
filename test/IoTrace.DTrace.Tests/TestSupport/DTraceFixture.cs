using IoTrace.Backends;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.TestSupport;

/// <summary>
/// Makes the dtrace backend the process's backend (attached once) for the tests of the <see cref="DTraceTracing"/>
/// collection, which run one at a time: the backend, like dtrace's view, is process-wide.
/// </summary>
public sealed class DTraceFixture
{
    /// <summary>Skips (fails under CI) when the machine cannot run dtrace; fails when it can but the backend does not attach.</summary>
#pragma warning disable CA1822 // An instance method: tests reach it through the injected fixture, which is what starts the collection.
    public void Require()
    {
        Requires.DTrace();
        IoTracer.AddBackend(IoTraceDTrace.Backend);
        Assert.True(IoTracer.TryEnable("dtrace", out var reason), $"The dtrace backend did not attach: {reason}");
        Assert.Equal("dtrace", IoTracer.BackendName);
    }
#pragma warning restore CA1822

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    internal static DTraceBackend Backend => Assert.IsType<DTraceBackend>(Assert.IsType<FallbackBackend>(IoTracer.Backend).Primary);
}

[CollectionDefinition(DisableParallelization = true)]
public sealed class DTraceTracing : ICollectionFixture<DTraceFixture>;
