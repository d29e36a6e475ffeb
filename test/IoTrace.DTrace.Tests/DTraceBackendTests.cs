using System.Globalization;
using System.Net;
using System.Net.Sockets;
using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Tests.KernelBackends;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests;

[Collection(typeof(DTraceTracing))]
public sealed class DTraceBackendTests(DTraceFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-dtrace-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Trace_FileRead_CountsExactCallsBytesAndLine()
    {
        fixture.Require();
        var path = WriteFile("data.bin", 12_345);

        var report = IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(path)); // the line under test

        Assert.Equal("dtrace", report.Backend);
        Assert.True(report.IsComplete);
        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 12345", ByProbe(report));
        var line = SourceLines.Of("File.ReadAllBytes(path)); // the line under test");
        Assert.All(report.Aggregates, a => Assert.Equal(("DTraceBackendTests.cs", line, path), (Path.GetFileName(a.File), a.Line, a.Target)));
        Assert.Single(report.Aggregates.Select(a => a.Fd).Distinct());
    }

    [Fact]
    public async Task Trace_FileSystemWork_MatchesStraceCallForCall()
    {
        fixture.Require();

        var (stdout, log) = await StraceLog.RunAsync(StraceLog.IoClasses, Path.Combine(AppContext.BaseDirectory, "IoTrace.DTrace.Tests.Host.dll"), "files", _directory);

        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("DONE dtrace True", lines[^1]);
        var rows = lines[..^1].Select(static l => l.Split('\t')).ToList();
        var (files, socket) = FileSystemWorkStrace.Read(log, _directory);
        var reported = FileSystemWorkStrace.Reported(
            rows.Select(static r => (r[0], (string?)r[5], long.Parse(r[3], CultureInfo.InvariantCulture), long.Parse(r[4], CultureInfo.InvariantCulture))), _directory);

        // The kernel's view, as the eBPF backend's: what libc does itself too (the directory listing, copy_file_range).
        Assert.Contains("copy_file_range 1 3000", reported.Files);
        Assert.Contains("getdents64 2 136", reported.Files);
        Assert.Equal(FileSystemWorkStrace.Lines(files), reported.Files);
        Assert.Equal(["bind 1 0", "getsockname 1 0", "getsockopt 1 0", "listen 1 0", "setsockopt 2 0"], reported.Socket);
        Assert.Equal(FileSystemWorkStrace.Lines(socket), reported.Socket);
    }

    [Fact]
    public void Trace_OpenThatFails_NamesThePathItTried()
    {
        fixture.Require();
        var missing = Path.Combine(_directory, "missing.txt");

        var report = IoTracer.Trace(Strategy.Setup, () => Assert.Throws<FileNotFoundException>(() => File.OpenRead(missing)));

        var open = Assert.Single(report.Aggregates, static a => a.Probe == "openat");
        Assert.Equal((missing, 1L, (int?)null), (open.Target, open.Calls, open.Fd));
    }

    [Fact]
    public void Trace_FdNumberReusedInOneTrace_EachFileKeepsItsOwnTargetAndBytes()
    {
        fixture.Require();
        var first = WriteFile("first.bin", 1_111);
        var second = WriteFile("second.bin", 2_222);

        // The kernel gives the second file the number the first just freed, unless another thread of the process took
        // it in between: then the trace shows nothing reused, and runs again.
        IoTraceReport report;
        var attempts = 0;
        do
        {
            report = IoTracer.Trace(Strategy.Read, () =>
            {
                File.ReadAllBytes(first);
                File.ReadAllBytes(second);
            });
        }
        while (report.Aggregates.Select(a => a.Fd).Distinct().Count() > 1 && ++attempts < 5);

        Assert.Single(report.Aggregates.Select(a => a.Fd).Distinct());
        Assert.Equal(
            [(first, 1_111L), (second, 2_222L)],
            report.Aggregates.OrderBy(a => a.Bytes).Select(a => (a.Target!, a.Bytes)));
    }

    [Fact]
    public async Task TraceAsync_LoopbackTcp_CountsExactBytesEachWay()
    {
        fixture.Require();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var server = EchoAsync(listener, 20_000);

        var report = await IoTracer.TraceAsync(Strategy.All, async () =>
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint);
            await client.SendAsync(new byte[20_000]);
            var received = 0;
            var buffer = new byte[4096];
            while (received < 20_000)
            {
                received += await client.ReceiveAsync(buffer);
            }
        });
        await server;

        Assert.True(report.IsComplete);
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Assert.Equal(1, report.Aggregates.Where(a => a.Probe == "connect").Sum(a => a.Calls));
        Assert.Equal(20_000, report.Aggregates.Where(a => a.Probe is "sendto" or "sendmsg" or "write").Sum(a => a.Bytes));
        Assert.Equal(20_000, report.Aggregates.Where(a => a.Probe is "recvfrom" or "recvmsg" or "read").Sum(a => a.Bytes));
        Assert.All(report.Aggregates.Where(a => a.Probe is "sendto" or "recvfrom"), a => Assert.Equal($"127.0.0.1:{port}", a.Target));
    }

    [Fact]
    public void Trace_ConcurrentFlows_EachGetsExactlyItsOwnCalls()
    {
        fixture.Require();
        var sizes = Enumerable.Range(0, 16).Select(i => 1_000 + (i * 37)).ToArray();
        var paths = sizes.Select(size => WriteFile($"f{size}.bin", size)).ToArray();
        var reports = new IoTraceReport[sizes.Length];

        // Dedicated threads: flows that each block in Stop until their flush, all at once.
        using var start = new Barrier(sizes.Length);
        var threads = Enumerable.Range(0, sizes.Length).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            reports[i] = IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(paths[i]));
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        for (var i = 0; i < sizes.Length; i++)
        {
            Assert.True(reports[i].IsComplete);
            Assert.Equal($"close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 {sizes[i]}", ByProbe(reports[i]));
            Assert.All(reports[i].Aggregates, a => Assert.Equal(paths[i], a.Target));
        }
    }

    [Fact]
    public unsafe void Trace_DirectLibcRead_IsCountedOnItsLine()
    {
        fixture.Require();
        var path = WriteFile("direct.bin", 3_000);
        using var handle = File.OpenHandle(path);
        var buffer = new byte[8_192];

        IoTraceReport report;
        fixed (byte* pointer = buffer)
        {
            var address = pointer;
            report = IoTracer.Trace(Strategy.Read, () => DirectLibc.Read(handle.DangerousGetHandle(), address, buffer.Length)); // libc read
        }

        var read = Assert.Single(report.Aggregates);
        Assert.Equal(("read", 1L, 3_000L, path), (read.Probe, read.Calls, read.Bytes, read.Target));
        Assert.Equal(SourceLines.Of("DirectLibc.Read(handle.DangerousGetHandle(), address, buffer.Length)); // libc read"), read.Line);
    }

    [Fact]
    public void Trace_StrategyPerTrace_KeepsOnlyItsProbes()
    {
        fixture.Require();
        var path = WriteFile("strategy.bin", 700);

        var read = IoTracer.Trace(Strategy.Read, () => File.ReadAllBytes(path));
        var setup = IoTracer.Trace(Strategy.Setup, () => File.ReadAllBytes(path));
        var summary = WithoutGc.Run(() => IoTracer.Trace(Strategy.Summary, () => File.ReadAllBytes(path)));

        Assert.Equal("pread64 1 700", ByProbe(read));
        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0", ByProbe(setup));
        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 700", ByProbe(summary));
        Assert.All(summary.Aggregates, a => Assert.Equal((null, null, (int?)null), (a.File, a.Line, a.Fd)));
        Assert.All(read.Aggregates.Concat(setup.Aggregates), a => Assert.Equal(path, a.Target));
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

    private static async Task EchoAsync(TcpListener listener, int bytes)
    {
        using var server = await listener.AcceptSocketAsync();
        var buffer = new byte[4096];
        var echoed = 0;
        while (echoed < bytes)
        {
            var n = await server.ReceiveAsync(buffer);
            await server.SendAsync(buffer.AsMemory(0, n));
            echoed += n;
        }
    }

    private static string ByProbe(IoTraceReport report) => KernelBackendAgreement.ByProbe(report);

    private string WriteFile(string name, int bytes)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, new byte[bytes]);
        return path;
    }
}
