using IoTrace.Ebpf.Tests.TestSupport;
using Xunit;

namespace IoTrace.Ebpf.Tests;

[Collection(typeof(KernelTracing))]
public sealed class EbpfBackendTests(EbpfFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-ebpf-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Trace_FileRead_CountsExactBytesAndCalls()
    {
        fixture.Require();
        var path = Path.Combine(_directory, "data.bin");
        File.WriteAllBytes(path, new byte[12_345]);

        var report = IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(path));

        File.WriteAllText("/tmp/ebpf-report.txt", report.ToString("default"));
        Assert.Equal("ebpf", report.Backend);
        Assert.True(report.IsComplete);
        var reads = report.Aggregates.Where(a => a.Probe is "read" or "pread64").ToList();
        Assert.Equal(12_345, reads.Sum(a => a.Bytes));
    }
}
