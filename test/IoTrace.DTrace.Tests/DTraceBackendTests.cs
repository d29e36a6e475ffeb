using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Tests.KernelBackends;
using Xunit;

namespace IoTrace.DTrace.Tests;

/// <summary>The dtrace backend: the kernel backends' contract, and what is its own.</summary>
[Collection(typeof(DTraceTracing))]
public sealed class DTraceBackendTests(DTraceFixture fixture) : KernelBackendContract
{
    protected override string Backend => "dtrace";

    protected override string HostAssembly => "IoTrace.DTrace.Tests.Host.dll";

    protected override void RequireBackend() => fixture.Require();

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    protected override bool WaitUntilCodeMapCurrent(TimeSpan timeout) => DTraceFixture.Backend.WaitUntilCodeMapCurrent(timeout);

    [Fact]
    public void Trace_CpuAsked_ReportSaysUnavailableRatherThanZero()
    {
        fixture.Require();
        var path = WriteFile("cpu.bin", 5_000);
        var withCpu = new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time | IoTraceFeatures.Cpu };

        var scope = IoTracer.Start(Strategy.Read, withCpu);
        File.ReadAllBytes(path);
        var report = scope.Stop();

        // DTrace for Linux has no vtimestamp.
        Assert.Equal(IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time, report.Features);
        Assert.Equal(5_000, Assert.Single(report.Aggregates).Bytes);
    }
}
