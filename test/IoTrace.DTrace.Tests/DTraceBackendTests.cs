using System.Globalization;
using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Tests.KernelBackends;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests;

/// <summary>The dtrace backend: the kernel backends' contract, and what is its own.</summary>
[Collection(typeof(DTraceTracing))]
public sealed class DTraceBackendTests(DTraceFixture fixture) : KernelBackendContract
{
    protected override string Backend => "dtrace";

    protected override void RequireBackend() => fixture.Require();

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    protected override bool WaitUntilCodeMapCurrent(TimeSpan timeout) => DTraceFixture.Backend.WaitUntilCodeMapCurrent(timeout);

    [Fact]
    public async Task Trace_FileSystemWork_MatchesStraceCallForCall()
    {
        fixture.Require();

        var (stdout, log) = await StraceLog.RunAsync(StraceLog.IoClasses, Path.Combine(AppContext.BaseDirectory, "IoTrace.DTrace.Tests.Host.dll"), "files", Folder);

        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("DONE dtrace True", lines[^1]);
        var rows = lines[..^1].Select(static l => l.Split('\t')).ToList();
        var (files, socket) = FileSystemWorkStrace.Read(log, Folder);
        var reported = FileSystemWorkStrace.Reported(
            rows.Select(static r => (r[0], (string?)r[5], long.Parse(r[3], CultureInfo.InvariantCulture), long.Parse(r[4], CultureInfo.InvariantCulture))), Folder);

        // The kernel's view, as the eBPF backend's: what libc does itself too (the directory listing, copy_file_range).
        Assert.Contains("copy_file_range 1 3000", reported.Files);
        Assert.Contains("getdents64 2 136", reported.Files);
        Assert.Equal(FileSystemWorkStrace.Lines(files), reported.Files);
        Assert.Equal(["bind 1 0", "getsockname 1 0", "getsockopt 1 0", "listen 1 0", "setsockopt 2 0"], reported.Socket);
        Assert.Equal(FileSystemWorkStrace.Lines(socket), reported.Socket);
    }

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
