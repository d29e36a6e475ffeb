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

    /// <summary>
    /// Flushes asked for by other traces' stops while a Summary trace makes many calls: none of its calls is lost or
    /// counted twice, however its lines fall between the flushes (a script that aggregates them in dtrace lost some).
    /// </summary>
    [Fact]
    public void Trace_SummaryCallsWhileOtherTracesFlush_EveryCallCountedOnce()
    {
        fixture.Require();
        const int Reads = 50_000;
        var counted = WriteFile("counted.bin", 64);
        var other = WriteFile("other.bin", 100);
        var done = false;
        var otherReports = new List<IoTraceReport>();
        var others = new Thread(() =>
        {
            while (!Volatile.Read(ref done))
            {
                otherReports.Add(IoTracer.Trace(Strategy.Read, () => File.ReadAllBytes(other)));
            }
        });

        using var handle = File.OpenHandle(counted);
        var buffer = new byte[1];
        others.Start();
        var report = IoTracer.Trace(Strategy.Summary, () =>
        {
            for (var i = 0; i < Reads; i++)
            {
                RandomAccess.Read(handle, buffer, 0);
            }
        });
        Volatile.Write(ref done, true);
        others.Join();

        Assert.True(report.IsComplete);
        Assert.True(otherReports.Count >= 2, $"{otherReports.Count} flushes while the trace counted");
        Assert.All(otherReports, r => Assert.Equal("pread64 1 100", KernelBackendAgreement.ByProbe(r)));
        Assert.Equal($"pread64 {Reads} {Reads}", KernelBackendAgreement.ByProbe(report));
    }
}
