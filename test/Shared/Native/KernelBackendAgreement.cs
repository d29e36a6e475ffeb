using IoTrace.Backends;
using IoTrace.Tests.Shared;
using IoTrace.Tracing;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace IoTrace.Tests.KernelBackends;

/// <summary>
/// The same work traced by a kernel-side backend (the process's, <see cref="IoTracer"/>) and by the in-process one (a
/// tracer of its own, so the kernel backend stays attached), in one process: the same calls and bytes per probe, the
/// same targets. Each kernel backend's tests derive from it with their fixture.
/// </summary>
public abstract class KernelBackendAgreement : IDisposable
{
    private static readonly Lazy<Tracer> s_inProcess = new(StartInProcess);

    protected string Folder { get; } = Directory.CreateTempSubdirectory("iotrace-agree-").FullName;

    /// <summary>The kernel backend's name, as reports give it.</summary>
    protected abstract string Backend { get; }

    /// <summary>Makes the kernel backend the process's backend (the collection's fixture).</summary>
    protected abstract void RequireBackend();

    public void Dispose()
    {
        Directory.Delete(Folder, recursive: true);
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task SameWork_BothBackends_SameCallsAndBytesPerProbe()
    {
        RequireBackend();
        var source = Path.Combine(Folder, "in.bin");
        await File.WriteAllBytesAsync(source, new byte[70_000], TestContext.Current.CancellationToken);

        var kernel = await TraceWork(kernel: true, source, Path.Combine(Folder, $"out-{Backend}.bin"));
        var inProcess = await TraceWork(kernel: false, source, Path.Combine(Folder, "out-inprocess.bin"));

        Assert.Equal((Backend, "inprocess"), (kernel.Backend, inProcess.Backend));
        Assert.True(ByProbe(inProcess) == ByProbe(kernel), $"in process: {Rows(inProcess)}\n{Backend}: {Rows(kernel)}");
        Assert.StartsWith("close 2 0, flock 4 0, fstat 2 0, fstatfs 1 0, ftruncate 1 0, lseek 1 0, openat 2 0, pread64 1 70000, ", ByProbe(kernel), StringComparison.Ordinal);
        Assert.Equal(70_000, kernel.Aggregates.Where(a => a.Probe is "pwrite64" or "write").Sum(a => a.Bytes));
    }

    [Fact]
    public void StatsByPath_BothBackends_SamePathsAsTargets()
    {
        RequireBackend();
        var file = Path.Combine(Folder, "present.txt");
        File.WriteAllText(file, "x");
        var missing = Path.Combine(Folder, "missing.txt");

        var kernel = Trace(kernel: true, Strategy.Setup, () => StatPaths(file, missing));
        var inProcess = Trace(kernel: false, Strategy.Setup, () => StatPaths(file, missing));

        // File.Exists lstats its path (glibc's legacy __lxstat64: the lstat system call), Directory.Exists stats its own.
        Assert.Equal((Backend, "inprocess"), (kernel.Backend, inProcess.Backend));
        Assert.Equal([("lstat", missing, 1L), ("lstat", file, 1L), ("stat", Folder, 1L)], Stats(kernel));
        Assert.Equal(Stats(inProcess), Stats(kernel));
        Assert.All(kernel.Aggregates, a => Assert.Null(a.Fd));
    }

    /// <summary>A socket's calls before its connect name its peer in both: one target per fd life, the one it ends with.</summary>
    [Fact]
    public void SocketCallsBeforeItsConnect_BothBackends_SameCallsAndPeerPerProbe()
    {
        RequireBackend();
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var peer = (System.Net.IPEndPoint)listener.LocalEndpoint;

        var kernel = Trace(kernel: true, Strategy.Setup, () => Connect(peer));
        var inProcess = Trace(kernel: false, Strategy.Setup, () => Connect(peer));

        Assert.Equal((Backend, "inprocess"), (kernel.Backend, inProcess.Backend));
        Assert.Equal(Stats(inProcess), Stats(kernel));
        Assert.Equal([("close", peer.ToString(), 1L), ("connect", peer.ToString(), 1L), ("fcntl", peer.ToString(), 2L)], Stats(kernel).Where(s => s.Probe is "close" or "connect" or "fcntl"));
    }

    [Fact]
    public void DirectLibcRead_OnlyTheKernelSeesIt()
    {
        RequireBackend();
        var path = Path.Combine(Folder, "direct.bin");
        File.WriteAllBytes(path, new byte[1_234]);
        var buffer = new byte[4_096];

        var kernel = ReadDirect(kernel: true, path, buffer);
        var inProcess = ReadDirect(kernel: false, path, buffer);

        Assert.Equal("read 1 1234", ByProbe(kernel));
        Assert.Equal(("inprocess", string.Empty), (inProcess.Backend, ByProbe(inProcess)));
    }

    /// <summary>Calls and bytes per probe, in probe order: "close 1 0, openat 1 0, pread64 1 700".</summary>
    public static string ByProbe(IoTraceReport report) =>
        string.Join(", ", report.Aggregates.GroupBy(a => a.Probe).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key} {g.Sum(a => a.Calls)} {g.Sum(a => a.Bytes)}"));

    private static Tracer StartInProcess()
    {
        var backend = BackendSelector.Create(BackendSelector.InProcess, [], out var reason);
        Assert.True(backend is not null, reason);
        var tracer = new Tracer(backend, NullLoggerFactory.Instance);
        Assert.True(tracer.TryStart(out reason), reason);
        return tracer;
    }

    private static IoTraceReport Trace(bool kernel, Strategy strategy, Action work)
    {
        if (kernel)
        {
            return IoTracer.Trace(strategy, work);
        }

        var scope = s_inProcess.Value.Start(strategy, new IoTraceStartOptions());
        work();
        return scope.Stop();
    }

    private static async Task<IoTraceReport> TraceAsync(bool kernel, Strategy strategy, Func<Task> work)
    {
        if (kernel)
        {
            return await IoTracer.TraceAsync(strategy, work);
        }

        var scope = s_inProcess.Value.Start(strategy, new IoTraceStartOptions());
        await work();
        return scope.Stop();
    }

    private static List<(string Probe, string? Target, long Calls)> Stats(IoTraceReport report) =>
        [.. report.Aggregates.GroupBy(a => (a.Probe, a.Target)).Select(g => (g.Key.Probe, g.Key.Target, g.Sum(a => a.Calls))).OrderBy(a => a.Probe, StringComparer.Ordinal).ThenBy(a => a.Target, StringComparer.Ordinal)];

    private static void StatPaths(string file, string missing)
    {
        Assert.True(File.Exists(file));
        Assert.False(File.Exists(missing));
        Assert.True(Directory.Exists(Path.GetDirectoryName(file)));
    }

    private static void Connect(System.Net.IPEndPoint peer)
    {
        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        client.Blocking = false;
        client.Blocking = true;
        client.Connect(peer);
    }

    private static unsafe IoTraceReport ReadDirect(bool kernel, string path, byte[] buffer)
    {
        using var handle = File.OpenHandle(path);
        fixed (byte* pointer = buffer)
        {
            var address = pointer;
            return Trace(kernel, Strategy.Read, () => DirectLibc.Read(handle.DangerousGetHandle(), address, buffer.Length));
        }
    }

    private static string Rows(IoTraceReport report) =>
        string.Join("; ", report.Aggregates.Select(static a => $"{a.Probe} {a.Calls} {a.Bytes} {a.Fd} {a.Target} {a.Location}"));

    private static Task<IoTraceReport> TraceWork(bool kernel, string source, string destination) =>
        TraceAsync(kernel, Strategy.All, async () =>
        {
            var bytes = await File.ReadAllBytesAsync(source);
            await File.WriteAllBytesAsync(destination, bytes);
        });
}
