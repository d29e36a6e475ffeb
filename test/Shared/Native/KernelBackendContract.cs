using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Tests.KernelBackends;

/// <summary>
/// What every kernel-side backend must report exactly, whatever its mechanism: calls, bytes, lines, targets and fd
/// lives, concurrent flows apart, glibc's wrappers stepped out of, the runtime's own IO left out. Each kernel backend's
/// tests derive from it with their fixture, and add what is theirs.
/// </summary>
public abstract class KernelBackendContract : IDisposable
{
    protected string Folder { get; } = Directory.CreateTempSubdirectory("iotrace-kernel-").FullName;

    /// <summary>The kernel backend's name, as reports give it.</summary>
    protected abstract string Backend { get; }

    /// <summary>The backend's test host (beside the tests' assembly): it attaches the backend, and with "files ROOT" prints a trace of <see cref="FileSystemWork"/>.</summary>
    protected abstract string HostAssembly { get; }

    /// <summary>Makes the kernel backend the process's backend (the collection's fixture).</summary>
    protected abstract void RequireBackend();

    /// <summary>Waits until the backend's code map holds everything jitted so far.</summary>
    protected abstract bool WaitUntilCodeMapCurrent(TimeSpan timeout);

    public void Dispose()
    {
        Directory.Delete(Folder, recursive: true);
        GC.SuppressFinalize(this);
    }

    [Fact]
    public void Trace_FileRead_CountsExactCallsBytesAndLine()
    {
        RequireBackend();
        var path = WriteFile("data.bin", 12_345);

        var report = IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(path)); // the line under test

        Assert.Equal(Backend, report.Backend);
        Assert.True(report.IsComplete);
        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 12345", KernelBackendAgreement.ByProbe(report));
        var line = SourceLines.Of("File.ReadAllBytes(path)); // the line under test");
        Assert.All(report.Aggregates, a => Assert.Equal(("KernelBackendContract.cs", line, path), (Path.GetFileName(a.File), a.Line, a.Target)));
        Assert.Single(report.Aggregates.Select(a => a.Fd).Distinct());
    }

    [Fact]
    public void Trace_OpenThatFails_NamesThePathItTried()
    {
        RequireBackend();
        var missing = Path.Combine(Folder, "missing.txt");

        var report = IoTracer.Trace(Strategy.Setup, () => Assert.Throws<FileNotFoundException>(() => File.OpenRead(missing)));

        var open = Assert.Single(report.Aggregates, static a => a.Probe == "openat");
        Assert.Equal((missing, 1L, (int?)null), (open.Target, open.Calls, open.Fd));
    }

    [Fact]
    public void Trace_FdNumberReusedInOneTrace_EachFileKeepsItsOwnTargetAndBytes()
    {
        RequireBackend();
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
    public async Task TraceAsync_AsynchronousNameResolution_ItsReadsTakeTheLineThatStartedIt()
    {
        RequireBackend();

        // The process's first resolution also reads /etc/host.conf, in glibc's one-time set-up, deeper inside libc than
        // the walks step through: those calls keep no line (the README's Known limits). The traced one reads /etc/hosts
        // on a pool thread, with Dns's frames and none of this method's on the stack.
        await Dns.GetHostAddressesAsync("localhost", TestContext.Current.CancellationToken);
        var report = await IoTracer.TraceAsync(Strategy.All, async () => await Dns.GetHostAddressesAsync("localhost")); // the resolution under test

        Assert.True(report.IsComplete);
        var line = SourceLines.Of("await Dns.GetHostAddressesAsync(\"localhost\")); // the resolution under test");
        var etc = report.Aggregates.Where(static a => a.Target?.StartsWith("/etc/", StringComparison.Ordinal) == true).ToList();
        Assert.Contains(etc, static a => (a.Probe, a.Target) == ("openat", "/etc/hosts"));
        Assert.All(etc, a => Assert.True(
            (a.Line, Path.GetFileName(a.File)) == (line, "KernelBackendContract.cs"),
            $"{a.Probe} {a.Target} (fd {a.Fd}, {a.Calls} calls) on {a.File}:{a.Line}, not line {line}"));
    }

    [Fact]
    public async Task TraceAsync_LoopbackTcp_CountsExactBytesEachWay()
    {
        RequireBackend();
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
        var rows = string.Join("; ", report.Aggregates.Select(static a => $"{a.Probe} {a.Calls} {a.Bytes} {a.Target} line {a.Line}"));
        Assert.Equal(1, report.Aggregates.Where(a => a.Probe == "connect").Sum(a => a.Calls));
        Assert.True(report.Aggregates.Where(a => a.Probe is "sendto" or "sendmsg" or "write").Sum(a => a.Bytes) == 20_000, rows);
        Assert.True(report.Aggregates.Where(a => a.Probe is "recvfrom" or "recvmsg" or "read").Sum(a => a.Bytes) == 20_000, rows);
        Assert.All(report.Aggregates.Where(a => a.Probe is "sendto" or "recvfrom"), a => Assert.Equal($"127.0.0.1:{port}", a.Target));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Trace_SharedConnectionsCallsOutsideTheTrace_ReportedAsSharedNotAsTheTraces()
    {
        RequireBackend();
        SharedConnectionWork.TraceAndCheck();
    }

    [Fact]
    public void Trace_ConcurrentFlows_EachGetsExactlyItsOwnCalls()
    {
        RequireBackend();
        var sizes = Enumerable.Range(0, 32).Select(i => 1_000 + (i * 37)).ToArray();
        var paths = sizes.Select(size => WriteFile($"f{size}.bin", size)).ToArray();
        var reports = new IoTraceReport[sizes.Length];

        // Dedicated threads: 32 flows that each block in Stop until their flush, all at once (the pool grows too slowly).
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
            Assert.Equal($"close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 {sizes[i]}", KernelBackendAgreement.ByProbe(reports[i]));
            Assert.All(reports[i].Aggregates, a => Assert.Equal(paths[i], a.Target));
        }
    }

    [Fact]
    public unsafe void Trace_DirectLibcRead_IsCountedOnItsLine()
    {
        RequireBackend();
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

    /// <summary>File system work in a fresh process under strace: the same calls and bytes, file by file and on the socket.</summary>
    [Fact]
    public async Task Trace_FileSystemWork_MatchesStraceCallForCall()
    {
        RequireBackend();

        var (stdout, log) = await StraceLog.RunAsync(StraceLog.IoClasses, Path.Combine(AppContext.BaseDirectory, HostAssembly), "files", Folder);

        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"DONE {Backend} True", lines[^1]);
        var rows = lines[..^1].Select(static l => l.Split('\t')).ToList();
        var (files, socket) = FileSystemWorkStrace.Read(log, Folder);
        var reported = FileSystemWorkStrace.Reported(
            rows.Select(static r => (r[0], (string?)r[5], long.Parse(r[3], CultureInfo.InvariantCulture), long.Parse(r[4], CultureInfo.InvariantCulture))), Folder);

        // The kernel sees what libc does itself too: the directory listing's calls, and copy_file_range.
        Assert.Contains("copy_file_range 1 3000", reported.Files);
        Assert.Contains("getdents64 2 136", reported.Files);
        Assert.Equal(FileSystemWorkStrace.Lines(files), reported.Files);
        Assert.Equal(["bind 1 0", "getsockname 1 0", "getsockopt 1 0", "listen 1 0", "setsockopt 2 0"], reported.Socket);
        Assert.Equal(FileSystemWorkStrace.Lines(socket), reported.Socket);

        // The socket was closed in the trace, before the flush: what its number stands for by then (an assembly the
        // runtime loaded, in one run) is not what it was.
        Assert.All(rows.Where(static r => r[0] is "socket" or "bind" or "listen" or "getsockname" or "setsockopt" or "getsockopt"), static r => Assert.DoesNotContain('/', r[5]));
    }

    [Fact]
    public void Trace_StrategyPerTrace_KeepsOnlyItsProbes()
    {
        RequireBackend();
        var path = WriteFile("strategy.bin", 700);

        var read = IoTracer.Trace(Strategy.Read, () => File.ReadAllBytes(path));
        var setup = IoTracer.Trace(Strategy.Setup, () => File.ReadAllBytes(path));
        var summary = IoTracer.Trace(Strategy.Summary, () => File.ReadAllBytes(path));

        Assert.Equal("pread64 1 700", KernelBackendAgreement.ByProbe(read));
        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0", KernelBackendAgreement.ByProbe(setup));
        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 700", KernelBackendAgreement.ByProbe(summary));
        Assert.All(summary.Aggregates, a => Assert.Equal((null, null, (int?)null), (a.File, a.Line, a.Fd)));
        Assert.All(read.Aggregates.Concat(setup.Aggregates), a => Assert.Equal(path, a.Target));
    }

    /// <summary>
    /// A directory listing's calls, which glibc makes inside opendir and closedir: on the line that listed, from the
    /// second trace (the first may meet code the backend's walk has not stepped through yet).
    /// </summary>
    [Fact]
    public void Trace_DirectoryListing_OpendirsCallsOnTheListingLine()
    {
        RequireBackend();
        var directory = Directory.CreateDirectory(Path.Combine(Folder, "listed")).FullName;
        File.WriteAllText(Path.Combine(directory, "a.txt"), "a");
        [MethodImpl(MethodImplOptions.NoInlining)]
        static string[] List(string path) => Directory.GetFiles(path); // the listing line
        Assert.Single(List(directory));
        Assert.True(WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));

        _ = IoTracer.Trace(Strategy.Setup, () => List(directory));
        var report = IoTracer.Trace(Strategy.Setup, () => List(directory));

        var line = SourceLines.Of("Directory.GetFiles(path); // the listing line");
        Assert.Equal(
            [("close", line, 1L), ("newfstatat", line, 1L), ("openat", line, 1L)],
            report.Aggregates.Where(a => a.Target == directory).Select(a => (a.Probe, a.Line ?? 0, a.Calls)).OrderBy(a => a.Probe, StringComparer.Ordinal));
    }

    [Fact]
    public async Task TraceAsync_CallsThroughGlibcWrappersWithoutFramePointers_EachOnItsLine()
    {
        RequireBackend();
        var path = WriteFile("wrappers.txt", 5_000);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accepted = listener.AcceptSocketAsync(TestContext.Current.CancellationToken);
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint, TestContext.Current.CancellationToken);
        using var peer = await accepted;

        // Once untraced, so the traced run's calls are only its own (no JIT-time assembly loads), and its code is in
        // the backend's code map before the traced run's stacks are attributed.
        var echo = EchoAsync(peer, 1_000);
        await OpenSendReceiveAsync(path, client);
        await echo;
        Assert.True(WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));
        echo = EchoAsync(peer, 1_000);
        var report = await IoTracer.TraceAsync(Strategy.All, () => OpenSendReceiveAsync(path, client));
        await echo;

        // glibc 2.36's open64 keeps the path in rbp, and send and recv keep no frame pointer: only the unwind table
        // finds the frames above them. With O_CREAT open64 also stores va_list pointers into its frame, which a
        // stack search takes for frame pointers. ReadAllTextAsync's reads (4096 bytes, 904, then end of file) run on
        // the thread pool, with no app frame: they get its open's line through the fd.
        Assert.True(report.IsComplete);
        var open = SourceLines.Of("// wrapped " + "open64, File.OpenHandle");
        var stream = SourceLines.Of("// wrapped " + "open64, FileStream");
        var text = SourceLines.Of("// wrapped " + "open64, File.ReadAllTextAsync");
        var send = SourceLines.Of("// wrapped " + "send");
        var receive = SourceLines.Of("// wrapped " + "recv");
        var remote = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        var calls = report.Aggregates.Where(a => a.Probe is "openat" or "pread64" or "sendto" or "recvfrom").ToList();
        Assert.All(calls, a => Assert.Equal("KernelBackendContract.cs", Path.GetFileName(a.File)));
        Assert.Equal(
            [("openat", open, 1L, 0L, path), ("openat", stream, 1L, 0L, path), ("openat", text, 1L, 0L, path), ("pread64", text, 3L, 5_000L, path), ("recvfrom", receive, 1L, 1_000L, remote), ("sendto", send, 1L, 1_000L, remote)],
            calls.Select(a => (a.Probe, a.Line ?? 0, a.Calls, a.Bytes, a.Target)).OrderBy(a => a.Probe, StringComparer.Ordinal).ThenBy(a => a.Item2));
    }

    [Fact]
    public void Trace_AssemblyLoadedInTheTrace_TheRuntimesOwnIoIsLeftOutUnlessAsked()
    {
        RequireBackend();
        var hiddenCopy = CopyOfAnAssembly("hidden");
        var shownCopy = CopyOfAnAssembly("shown");

        var hidden = IoTracer.Trace(Strategy.All, () => LoadInContextOfItsOwn(hiddenCopy));
        var scope = IoTracer.Start(Strategy.All, new IoTraceStartOptions { IncludeRuntimeIo = true });
        LoadInContextOfItsOwn(shownCopy);
        var shown = scope.Stop();
        var summaryCopy = CopyOfAnAssembly("summary");
        var summary = IoTracer.Trace(Strategy.Summary, () => LoadInContextOfItsOwn(summaryCopy));

        // The runtime's loader opens the file, from libcoreclr: the runtime's IO, not the line that asked for the load.
        Assert.Equal((Backend, Backend), (hidden.Backend, shown.Backend));
        var opens = shown.Aggregates.Where(a => a.Probe == "openat" && a.Target == shownCopy).ToList();
        Assert.NotEmpty(opens);
        Assert.All(opens, a => Assert.Equal(("(runtime)", null), (a.Method, a.File)));
        Assert.Contains(shown.Aggregates, a => a.Probe == "readlink"); // realpath's, inside libc

        // Loading is all the runtime's IO, realpath's included: nothing is left for the line that asked.
        Assert.All(shown.Aggregates, a => Assert.Equal("(runtime)", a.Method));
        Assert.Empty(hidden.Aggregates);
        Assert.Empty(summary.Aggregates);
    }

    [Fact]
    public void Trace_GarbageCollectionInTheTrace_TheCollectorsReadsAreLeftOutUnlessAsked()
    {
        RequireBackend();
        var path = WriteFile("data.bin", 12_345);

        // A background collection starts the GC's background thread if it is not running (it exits after 20 s idle),
        // and the thread that starts it names it through /proc/self/task/<tid>/comm: runtime IO that a collection in a
        // trace below could otherwise make, and a trace that shows the runtime's IO would count. Started here, untraced.
        GC.Collect(2, GCCollectionMode.Forced, blocking: false);

        // A gen0 collection reads /proc/meminfo from the runtime (fopen, fgets, fclose), on the thread that asked: the
        // walk steps through libc's stdio, which keeps no frame pointers, to libcoreclr.
        var hidden = IoTracer.Trace(Strategy.All, () =>
        {
            File.ReadAllBytes(path);
            GC.Collect(0);
        });
        var scope = IoTracer.Start(Strategy.All, new IoTraceStartOptions { IncludeRuntimeIo = true });
        GC.Collect(0);
        var shown = scope.Stop();

        // Summary keeps no stacks, but the backend walks a call that libc itself makes (stdio's) to tell it apart.
        var summary = IoTracer.Trace(Strategy.Summary, () =>
        {
            File.ReadAllBytes(path);
            GC.Collect(0);
        });
        var summaryScope = IoTracer.Start(Strategy.Summary, new IoTraceStartOptions { IncludeRuntimeIo = true });
        GC.Collect(0);
        var summaryShown = summaryScope.Stop();

        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 12345", KernelBackendAgreement.ByProbe(hidden));
        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 12345", KernelBackendAgreement.ByProbe(summary));
        Assert.Equal(["close", "newfstatat", "openat", "read"], summaryShown.Aggregates.Select(a => a.Probe).Order(StringComparer.Ordinal));
        Assert.All(hidden.Aggregates, a => Assert.Equal(path, a.Target));
        var collector = shown.Aggregates.Where(a => a.Target == "/proc/meminfo").ToList();
        Assert.Equal(["close", "newfstatat", "openat", "read"], collector.Select(a => a.Probe).Order(StringComparer.Ordinal));
        Assert.All(collector, a => Assert.Equal(("(runtime)", null), (a.Method, a.File)));
    }

    protected string WriteFile(string name, int size)
    {
        var path = Path.Combine(Folder, name);
        File.WriteAllBytes(path, new byte[size]);
        return path;
    }

    protected static async Task EchoAsync(Socket peer, int bytes)
    {
        var buffer = new byte[bytes];
        var received = 0;
        while (received < bytes)
        {
            received += await peer.ReceiveAsync(buffer.AsMemory(received));
        }

        await peer.SendAsync(buffer);
    }

    private static async Task EchoAsync(TcpListener listener, int bytes)
    {
        using var peer = await listener.AcceptSocketAsync();
        await EchoAsync(peer, bytes);
    }

    private string CopyOfAnAssembly(string name)
    {
        // A file of its own, loaded into a context of its own: the runtime opens and reads it in the traced flow.
        var copy = Path.Combine(Folder, $"{name}.dll");
        File.Copy(typeof(Assert).Assembly.Location, copy);
        return copy;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LoadInContextOfItsOwn(string path)
    {
        var context = new System.Runtime.Loader.AssemblyLoadContext(path, isCollectible: true);
        _ = context.LoadFromAssemblyPath(path).GetName();
        context.Unload();
    }

    /// <summary>The traced work: three ways to open a file (two with O_CREAT), a send, and a receive of data already there (poll first).</summary>
    private static async Task OpenSendReceiveAsync(string path, Socket client)
    {
        using (File.OpenHandle(path, FileMode.OpenOrCreate)) { } // wrapped open64, File.OpenHandle
        await using (new FileStream(path, FileMode.OpenOrCreate, FileAccess.Read, FileShare.Read, 4096, useAsync: true)) { } // wrapped open64, FileStream
        _ = await File.ReadAllTextAsync(path); // wrapped open64, File.ReadAllTextAsync
        await client.SendAsync(new byte[1_000]); // wrapped send
        Assert.True(client.Poll(TimeSpan.FromSeconds(30), SelectMode.SelectRead));
        Assert.Equal(1_000, await client.ReceiveAsync(new byte[4_096])); // wrapped recv
    }
}
