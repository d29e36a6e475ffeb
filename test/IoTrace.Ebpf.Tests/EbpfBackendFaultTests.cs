using IoTrace.Ebpf.Tests.TestSupport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;
using IoTrace.Platform.Linux;

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
    public async Task BpftraceKilled_RunningTraceIncomplete_LaterTracesFallBackAndOneErrorIsLogged()
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
            var backend = EbpfFixture.Backend;
            var bpftrace = System.Diagnostics.Process.GetProcessById(Assert.NotNull(backend.BpftraceProcessId));

            var running = IoTracer.Start(Strategy.All);
            File.ReadAllBytes(path);
            bpftrace.Kill();
            await bpftrace.WaitForExitAsync(TestContext.Current.CancellationToken);
            var cutShort = await running.StopAsync();
            var afterwards = IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(path));
            var again = IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(path));

            Assert.False(cutShort.IsComplete);
            Assert.Equal(("inprocess", true), (afterwards.Backend, afterwards.IsComplete));
            Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 4321", EbpfBackendTests.ByProbe(afterwards));
            Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 4321", EbpfBackendTests.ByProbe(again));
            var failure = Assert.Single(collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
            Assert.Contains("bpftrace", failure.Message, StringComparison.Ordinal);
            Assert.Contains("in-process", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            IoTracer.LoggerFactory = previousFactory;
        }
    }

    [Fact]
    public async Task StopAsync_BpftraceStalled_ReportCompletesIncompleteAfterTheFlushTimeout()
    {
        fixture.Require();
        var path = Path.Combine(_directory, "data.bin");
        await File.WriteAllBytesAsync(path, new byte[1_234], TestContext.Current.CancellationToken);
        var backend = EbpfFixture.Backend;
        var bpftrace = Assert.NotNull(backend.BpftraceProcessId);
        var timeout = EbpfBackend.FlushTimeout;
        EbpfBackend.FlushTimeout = TimeSpan.FromSeconds(1);
        IoTraceReport report;
        Assert.Equal(0, IoTrace.Platform.Linux.LibcInterop.Kill(bpftrace, Sigstop));
        try
        {
            var scope = IoTracer.Start(Strategy.All);
            File.ReadAllBytes(path);

            // No flush can come while bpftrace is stopped: only the backend's own bound ends the wait.
            report = await scope.StopAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        }
        finally
        {
            _ = IoTrace.Platform.Linux.LibcInterop.Kill(bpftrace, Sigcont);
            EbpfBackend.FlushTimeout = timeout;
        }

        Assert.Equal(("ebpf", false), (report.Backend, report.IsComplete));
    }

    private const int Sigstop = 19;
    private const int Sigcont = 18;

    [Fact]
    public async Task KernelMapFull_ReportIsIncomplete_AndTheLossIsLoggedOnce()
    {
        fixture.Require();
        var collector = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(collector)));
        var previousFactory = IoTracer.LoggerFactory;
        IoTracer.LoggerFactory = factory;

        // Maps of 64 keys: the syscall table fits (38), a trace reading 100 files through 100 open fds does not.
        IoTracer.Disable();
        IoTrace.Ebpf.Kernel.BpftraceProcess.MapKeys = 64;
        try
        {
            fixture.Require();
            var paths = Enumerable.Range(0, 100).Select(i => Path.Combine(_directory, $"f{i}.bin")).ToList();
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
            Assert.True(report.Aggregates.Sum(a => a.Calls) < 100, $"{report.Aggregates.Sum(a => a.Calls)} calls kept");
            var lost = Assert.Single(collector.GetSnapshot(), r => r.Level >= LogLevel.Warning);
            Assert.Equal((6, "BackendLostCalls"), (lost.Id.Id, lost.Id.Name));
        }
        finally
        {
            IoTrace.Ebpf.Kernel.BpftraceProcess.MapKeys = IoTrace.Ebpf.Kernel.BpftraceProcess.DefaultMapKeys;
            IoTracer.LoggerFactory = previousFactory;
        }
    }
}
