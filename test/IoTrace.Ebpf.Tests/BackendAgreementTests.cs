using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests;

/// <summary>The same work traced by both backends of one process: the same calls and bytes per probe.</summary>
[Collection(typeof(KernelTracing))]
public sealed class BackendAgreementTests(EbpfFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-agree-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task SameWork_BothBackends_SameCallsAndBytesPerProbe()
    {
        fixture.Require();
        var source = Path.Combine(_directory, "in.bin");
        await File.WriteAllBytesAsync(source, new byte[70_000], TestContext.Current.CancellationToken);

        var kernel = await TraceWork(source, Path.Combine(_directory, "out-ebpf.bin"));
        Assert.True(IoTracer.TryEnable("inprocess", out var reason), reason);
        var inProcess = await TraceWork(source, Path.Combine(_directory, "out-inprocess.bin"));

        Assert.Equal(("ebpf", "inprocess"), (kernel.Backend, inProcess.Backend));
        Assert.True(EbpfBackendTests.ByProbe(inProcess) == EbpfBackendTests.ByProbe(kernel), $"in process: {Rows(inProcess)}\neBPF: {Rows(kernel)}");
        Assert.StartsWith("close 2 0, flock 4 0, fstat 2 0, fstatfs 1 0, ftruncate 1 0, lseek 1 0, openat 2 0, pread64 1 70000, ", EbpfBackendTests.ByProbe(kernel), StringComparison.Ordinal);
        Assert.Equal(70_000, kernel.Aggregates.Where(a => a.Probe is "pwrite64" or "write").Sum(a => a.Bytes));
    }

    [Fact]
    public void StatsByPath_BothBackends_SamePathsAsTargets()
    {
        fixture.Require();
        var file = Path.Combine(_directory, "present.txt");
        File.WriteAllText(file, "x");
        var missing = Path.Combine(_directory, "missing.txt");

        var kernel = StatPaths(file, missing);
        Assert.True(IoTracer.TryEnable("inprocess", out var reason), reason);
        var inProcess = StatPaths(file, missing);

        // File.Exists lstats its path (glibc's legacy __lxstat64: the lstat system call), Directory.Exists stats its own.
        Assert.Equal(("ebpf", "inprocess"), (kernel.Backend, inProcess.Backend));
        Assert.Equal([("lstat", missing, 1L), ("lstat", file, 1L), ("stat", _directory, 1L)], Stats(kernel));
        Assert.Equal(Stats(inProcess), Stats(kernel));
        Assert.All(kernel.Aggregates, a => Assert.Null(a.Fd));
    }

    private static IoTraceReport StatPaths(string file, string missing) =>
        IoTracer.Trace(Strategy.Setup, () =>
        {
            Assert.True(File.Exists(file));
            Assert.False(File.Exists(missing));
            Assert.True(Directory.Exists(Path.GetDirectoryName(file)));
        });

    private static List<(string Probe, string? Target, long Calls)> Stats(IoTraceReport report) =>
        [.. report.Aggregates.GroupBy(a => (a.Probe, a.Target)).Select(g => (g.Key.Probe, g.Key.Target, g.Sum(a => a.Calls))).OrderBy(a => a.Probe, StringComparer.Ordinal).ThenBy(a => a.Target, StringComparer.Ordinal)];

    /// <summary>A socket's calls before its connect name its peer in both: one target per fd life, the one it ends with.</summary>
    [Fact]
    public void SocketCallsBeforeItsConnect_BothBackends_SameCallsAndPeerPerProbe()
    {
        fixture.Require();
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var peer = (System.Net.IPEndPoint)listener.LocalEndpoint;

        var kernel = Connect(peer);
        Assert.True(IoTracer.TryEnable("inprocess", out var reason), reason);
        var inProcess = Connect(peer);

        Assert.Equal(("ebpf", "inprocess"), (kernel.Backend, inProcess.Backend));
        Assert.Equal(Stats(inProcess), Stats(kernel));
        Assert.Equal([("close", peer.ToString(), 1L), ("connect", peer.ToString(), 1L), ("fcntl", peer.ToString(), 2L)], Stats(kernel).Where(s => s.Probe is "close" or "connect" or "fcntl"));
    }

    private static IoTraceReport Connect(System.Net.IPEndPoint peer) =>
        IoTracer.Trace(Strategy.Setup, () =>
        {
            using var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            client.Blocking = false;
            client.Blocking = true;
            client.Connect(peer);
        });

    [Fact]
    public unsafe void DirectLibcRead_OnlyTheKernelSeesIt()
    {
        fixture.Require();
        var path = Path.Combine(_directory, "direct.bin");
        File.WriteAllBytes(path, new byte[1_234]);
        var buffer = new byte[4_096];

        var kernel = ReadDirect(path, buffer);
        Assert.True(IoTracer.TryEnable("inprocess", out var reason), reason);
        var inProcess = ReadDirect(path, buffer);

        Assert.Equal("read 1 1234", EbpfBackendTests.ByProbe(kernel));
        Assert.Equal(("inprocess", string.Empty), (inProcess.Backend, EbpfBackendTests.ByProbe(inProcess)));
    }

    private static unsafe IoTraceReport ReadDirect(string path, byte[] buffer)
    {
        using var handle = File.OpenHandle(path);
        fixed (byte* pointer = buffer)
        {
            var address = pointer;
            return IoTracer.Trace(Strategy.Read, () => DirectLibc.Read(handle.DangerousGetHandle(), address, buffer.Length));
        }
    }

    private static string Rows(IoTraceReport report) =>
        string.Join("; ", report.Aggregates.Select(static a => $"{a.Probe} {a.Calls} {a.Bytes} {a.Fd} {a.Target} {a.Location}"));

    private static Task<IoTraceReport> TraceWork(string source, string destination) =>
        WithoutGc.RunAsync(() => IoTracer.TraceAsync(Strategy.All, async () =>
        {
            var bytes = await File.ReadAllBytesAsync(source);
            await File.WriteAllBytesAsync(destination, bytes);
        }));
}
