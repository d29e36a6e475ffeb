using System.Diagnostics;
using IoTrace.Ebpf.Kernel;
using IoTrace.Ebpf.Tests.TestSupport;
using Xunit;

namespace IoTrace.Ebpf.Tests.Kernel;

[Collection(typeof(KernelTracing))]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BpftraceMapsTests(EbpfFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-ebpf-maps-").FullName;

    public void Dispose()
    {
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Read_ByTheProcess_CountsExactCallsBytesAndTargets()
    {
        fixture.Require();
        var backend = EbpfFixture.Backend;
        var path = WriteFile("data.bin", 7_777);
        WarmUp(path);

        var summary = WithoutGc.Run(() => IoTracer.Trace(Strategy.Summary, () => File.ReadAllBytes(path)));
        var all = WithoutGc.Run(() => IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(path)));

        Assert.Null(backend.MapsPrintedBecause);
        AssertExact(summary, all, path);
    }

    [Fact]
    public void Open_MapsCannotBeTaken_BpftracePrintsThemAndCountsStayExact()
    {
        fixture.Require();
        var path = WriteFile("data.bin", 7_777);
        var open = BpftraceProcess.OpenMaps;
        IoTracer.Disable();
        BpftraceProcess.OpenMaps = _ => throw new IOException("refused by the test");
        try
        {
            fixture.Require();
            var backend = EbpfFixture.Backend;
            WarmUp(path);

            var summary = WithoutGc.Run(() => IoTracer.Trace(Strategy.Summary, () => File.ReadAllBytes(path)));
            var all = WithoutGc.Run(() => IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(path)));

            Assert.Contains("refused by the test", backend.MapsPrintedBecause, StringComparison.Ordinal);
            AssertExact(summary, all, path);
        }
        finally
        {
            BpftraceProcess.OpenMaps = open;
            IoTracer.Disable();
        }
    }

    [Fact]
    public void Open_ProcessWithoutBpftraceMaps_ThrowsNamingTheMissingMap()
    {
        fixture.Require();
        using var sleep = Process.Start(new ProcessStartInfo("sleep", "30"))!;
        try
        {
            var error = Assert.Throws<InvalidOperationException>(() => BpftraceMaps.Open(sleep.Id, 200));

            Assert.StartsWith("bpftrace has no map @", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            sleep.Kill();
        }
    }

    private static void AssertExact(IoTraceReport summary, IoTraceReport all, string path)
    {
        Assert.Equal(("ebpf", true), (summary.Backend, summary.IsComplete));
        Assert.Equal(("ebpf", true), (all.Backend, all.IsComplete));
        Assert.True(EbpfBackendTests.ByProbe(summary) == "close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 7777", $"Summary: {EbpfBackendTests.ByProbe(summary)}; All: {string.Join("; ", all.Aggregates.Select(a => $"{a.Probe} {a.Calls} {a.Target} {a.Location}"))}");
        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 7777", EbpfBackendTests.ByProbe(all));
        Assert.All(all.Aggregates, a => Assert.Equal(path, a.Target));
        Assert.All(all.Aggregates, a => Assert.Equal("BpftraceMapsTests.cs", Path.GetFileName(a.File)));
    }

    /// <summary>
    /// A trace of the same read first, its report dropped, as the other exact tests warm up: the first traced read of a
    /// process loads what the runtime needs for it.
    /// </summary>
    private static void WarmUp(string path) => _ = IoTracer.Trace(Strategy.Summary, () => File.ReadAllBytes(path));

    private string WriteFile(string name, int size)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, new byte[size]);
        return path;
    }
}
