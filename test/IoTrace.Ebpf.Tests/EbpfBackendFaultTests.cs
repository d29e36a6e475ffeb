using IoTrace.Ebpf.Tests.TestSupport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;
using IoTrace.Ebpf.Kernel;

namespace IoTrace.Ebpf.Tests;

[Collection(typeof(KernelTracing))]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class EbpfBackendFaultTests(EbpfFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-ebpf-fault-").FullName;

    public void Dispose()
    {
        // Leaves a working backend for the next test: Disable clears the failure, the fixture attaches again.
        IoTracer.Disable();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task MapsUnreadable_RunningTraceIncomplete_LaterTracesFallBackAndOneErrorIsLogged()
    {
        fixture.Require();
        var collector = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(collector)));
        var previousFactory = IoTracer.LoggerFactory;
        IoTracer.LoggerFactory = factory;
        try
        {
            var path = Path.Combine(_directory, "data.bin");
            await File.WriteAllBytesAsync(path, new byte[4_321], TestContext.Current.CancellationToken);
            var running = IoTracer.Start(Strategy.All);
            File.ReadAllBytes(path);
            KernelProbes.ReadingBuffer = _ => throw new IOException("the map is gone");
            var cutShort = await running.StopAsync();
            KernelProbes.ReadingBuffer = null;
            var afterwards = IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(path));
            var again = IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(path));

            Assert.False(cutShort.IsComplete);
            Assert.Equal(("inprocess", true), (afterwards.Backend, afterwards.IsComplete));
            Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 4321", EbpfBackendTests.ByProbe(afterwards));
            Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 4321", EbpfBackendTests.ByProbe(again));
            var failure = Assert.Single(collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
            Assert.Contains("reading the kernel maps failed: the map is gone", failure.Message, StringComparison.Ordinal);
            Assert.Contains("in-process", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            KernelProbes.ReadingBuffer = null;
            IoTracer.LoggerFactory = previousFactory;
        }
    }

    [Fact]
    public async Task StopAsync_FlushStalled_ReportCompletesIncompleteAfterTheFlushTimeout()
    {
        fixture.Require();
        var path = Path.Combine(_directory, "data.bin");
        await File.WriteAllBytesAsync(path, new byte[1_234], TestContext.Current.CancellationToken);
        var timeout = EbpfBackend.FlushTimeout;
        EbpfBackend.FlushTimeout = TimeSpan.FromSeconds(1);
        using var release = new ManualResetEventSlim();
        IoTraceReport report;
        KernelProbes.ReadingBuffer = _ => release.Wait();
        try
        {
            var scope = IoTracer.Start(Strategy.All);
            File.ReadAllBytes(path);

            // No flush can come while the flush thread is held: only the backend's own bound ends the wait.
            report = await scope.StopAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        }
        finally
        {
            KernelProbes.ReadingBuffer = null;
            release.Set();
            EbpfBackend.FlushTimeout = timeout;
        }

        Assert.Equal(("ebpf", false), (report.Backend, report.IsComplete));
    }

    [Fact]
    public async Task KernelMapFull_ReportIsIncomplete_AndTheLossIsLoggedOnce()
    {
        fixture.Require();
        var collector = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(collector)));
        var previousFactory = IoTracer.LoggerFactory;
        IoTracer.LoggerFactory = factory;

        // Buffer maps of 64 keys; a trace reading 200 files through 200 open fds does not fit, even if a rotation
        // splits it over two buffers (one then holds 100 keys at least).
        IoTracer.Disable();
        KernelProbes.MapKeys = 64;
        try
        {
            fixture.Require();
            var paths = Enumerable.Range(0, 200).Select(i => Path.Combine(_directory, $"f{i}.bin")).ToList();
            paths.ForEach(p => File.WriteAllBytes(p, new byte[10]));
            var handles = paths.Select(p => File.OpenHandle(p)).ToList();
            var buffer = new byte[10];

            var report = await IoTracer.TraceAsync(Strategy.Read, () =>
            {
                handles.ForEach(h => RandomAccess.Read(h, buffer, 0));
                return Task.CompletedTask;
            });
            handles.ForEach(h => h.Dispose());

            Assert.False(report.IsComplete);
            Assert.True(report.Aggregates.Sum(a => a.Calls) < 200, $"{report.Aggregates.Sum(a => a.Calls)} calls kept");
            var lost = Assert.Single(collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
            Assert.Equal((6, "BackendLostCalls"), (lost.Id.Id, lost.Id.Name));
        }
        finally
        {
            KernelProbes.MapKeys = KernelProbes.DefaultMapKeys;
            IoTracer.LoggerFactory = previousFactory;
        }
    }
}
