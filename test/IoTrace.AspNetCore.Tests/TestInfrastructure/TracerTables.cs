using System.Runtime.Versioning;
using IoTrace.Backends.InProcess;
using Xunit;

namespace IoTrace.AspNetCore.Tests.TestInfrastructure;

/// <summary>The sizes of the tracer's process-wide tables, which must return to idle once no request is traced.</summary>
/// <param name="ActiveTraces">Traces not stopped, as the core counts them.</param>
/// <param name="ShimActiveTraces">The native shim's count: while above zero, every hooked call enters managed code.</param>
/// <param name="FdOwners">fds a running trace waits on.</param>
/// <param name="CachedCallSites">Call paths with a cached application line.</param>
[SupportedOSPlatform("linux")]
internal sealed record TracerTables(int ActiveTraces, int ShimActiveTraces, int FdOwners, int CachedCallSites)
{
    public static TracerTables Read()
    {
        var statistics = IoTracer.GetStatistics();
        var backend = Assert.IsType<InProcessBackend>(IoTracer.Backend);
        return new(statistics.ActiveTraces, backend.ActiveTraces, statistics.AwaitedFds, statistics.CachedCallSites);
    }
}
