using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Tests.KernelBackends;
using IoTrace.Tests.Shared;
using Xunit;
using IoTrace.Probes;

namespace IoTrace.Ebpf.Tests;

[Collection(typeof(KernelTracing))]
public sealed class EbpfBackendTests(EbpfFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-ebpf-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Trace_FileRead_CountsExactCallsBytesAndLine()
    {
        fixture.Require();
        var path = WriteFile("data.bin", 12_345);

        var report = IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(path)); // the line under test

        Assert.Equal("ebpf", report.Backend);
        Assert.True(report.IsComplete);
        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 12345", ByProbe(report));
        var line = SourceLines.Of("File.ReadAllBytes(path)); // the line under test");
        Assert.All(report.Aggregates, a => Assert.Equal(("EbpfBackendTests.cs", line, path), (Path.GetFileName(a.File), a.Line, a.Target)));
        Assert.Single(report.Aggregates.Select(a => a.Fd).Distinct());
    }

    [Fact]
    public async Task Trace_FileSystemWork_MatchesStraceCallForCall()
    {
        fixture.Require();

        var (rows, done, log) = await HostProcess.TraceUnderStraceAsync("files", _directory);

        Assert.Equal("DONE ebpf True", done);
        var (files, socket) = FileSystemWorkStrace.Read(log, _directory);
        var reported = FileSystemWorkStrace.Reported(
            rows.Select(static r => (r[0], (string?)r[5], long.Parse(r[3], CultureInfo.InvariantCulture), long.Parse(r[4], CultureInfo.InvariantCulture))), _directory);

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

        var report = IoTracer.Trace(Strategy.Read, () =>
        {
            File.ReadAllBytes(first);
            File.ReadAllBytes(second); // the kernel gives it the fd number the first file just freed
        });

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
    public void Trace_StrategyPerTrace_KernelKeepsOnlyItsProbes()
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

    [Theory]
    [InlineData(Strategy.Summary)]
    [InlineData(Strategy.Read)]
    public void Trace_CpuFeatureOnlyWhenAsked_KernelMeasuresItThenAndOnlyThen(Strategy strategy)
    {
        fixture.Require();
        var path = WriteFile($"cpu-{strategy}.bin", 50_000);
        var withCpu = new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time | IoTraceFeatures.Cpu };

        var measured = IoTracer.Start(strategy, withCpu);
        File.ReadAllBytes(path);
        var cpu = Assert.Single(measured.Stop().Aggregates, a => a.Probe == "pread64");
        var unmeasured = IoTracer.Start(strategy);
        File.ReadAllBytes(path);
        var noCpu = Assert.Single(unmeasured.Stop().Aggregates, a => a.Probe == "pread64");

        // The kernel keeps no CPU map for a trace that does not ask (the slot's CPU bit), and one when it does.
        Assert.True(cpu.Cpu > TimeSpan.Zero && cpu.Cpu <= cpu.Time, $"time {cpu.Time}, cpu {cpu.Cpu}");
        Assert.Equal((50_000L, TimeSpan.Zero), (noCpu.Bytes, noCpu.Cpu));
        Assert.True(noCpu.Time > TimeSpan.Zero);
    }

    [Fact]
    public void Trace_WaitFeatureOnABlockedReceive_WaitIsWallMinusCpuAndMostOfTheCall()
    {
        fixture.Require();
        using var blocked = new BlockedReceive();
        var scope = IoTracer.Start(Strategy.Read, new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Wait });
        var received = blocked.Receive();
        var report = scope.Stop();

        BlockedReceive.AssertWaitedMostOfTheCall(report, received);
    }

    [Fact]
    public void Trace_CpuFeature_IsNeverAboveWallTime()
    {
        fixture.Require();
        var path = WriteFile("cpu.bin", 50_000);
        using var scope = IoTracer.Start(Strategy.All, new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time | IoTraceFeatures.Cpu });
        File.ReadAllBytes(path);
        var report = scope.Stop();

        var pread = Assert.Single(report.Aggregates, a => a.Probe == "pread64");
        Assert.True(pread.Time > TimeSpan.Zero && pread.Cpu > TimeSpan.Zero && pread.Cpu <= pread.Time, $"time {pread.Time}, cpu {pread.Cpu}");
    }

    /// <summary>
    /// A directory listing: libc's opendir opens the directory and checks it with fstat (a jump to fstatat), and
    /// libSystem.Native (frame pointers) calls opendir. The walk steps through fstatat and opendir by rules learned at
    /// attach, then goes on from libSystem.Native's frame. The first trace of the path meets a frameless CoreLib function
    /// and has no line; the second has every call on the listing's line (its fstat had none before).
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Trace_DirectoryListing_OpendirsCallsOnTheListingLine()
    {
        fixture.Require();
        var directory = Directory.CreateDirectory(Path.Combine(_directory, "listed")).FullName;
        File.WriteAllText(Path.Combine(directory, "a.txt"), "a");
        [MethodImpl(MethodImplOptions.NoInlining)]
        static string[] List(string path) => Directory.GetFiles(path); // the listing line
        Assert.Single(List(directory));
        Assert.True(EbpfFixture.Backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));

        _ = IoTracer.Trace(Strategy.Setup, () => List(directory));
        var report = IoTracer.Trace(Strategy.Setup, () => List(directory));

        var line = SourceLines.Of("Directory.GetFiles(path); // the listing line");
        Assert.Equal(
            [("close", line, 1L), ("newfstatat", line, 1L), ("openat", line, 1L)],
            report.Aggregates.Where(a => a.Target == directory).Select(a => (a.Probe, a.Line ?? 0, a.Calls)).OrderBy(a => a.Probe, StringComparer.Ordinal));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task TraceAsync_CallsThroughGlibcWrappersWithoutFramePointers_EachOnItsLine()
    {
        fixture.Require();
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
        Assert.True(EbpfFixture.Backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));
        echo = EchoAsync(peer, 1_000);
        var report = await IoTracer.TraceAsync(Strategy.All, () => OpenSendReceiveAsync(path, client));
        await echo;

        // glibc 2.36's open64 keeps the path in rbp, and send and recv keep no frame pointer: only the unwind table
        // finds the frames above them. With O_CREAT open64 also stores va_list pointers into its frame, which the
        // stack search took for frame pointers (those two opens had no line). ReadAllTextAsync's reads (4096 bytes,
        // 904, then end of file) run on the thread pool, with no app frame: they get its open's line through the fd.
        Assert.True(report.IsComplete);
        var open = SourceLines.Of("// wrapped " + "open64, File.OpenHandle");
        var stream = SourceLines.Of("// wrapped " + "open64, FileStream");
        var text = SourceLines.Of("// wrapped " + "open64, File.ReadAllTextAsync");
        var send = SourceLines.Of("// wrapped " + "send");
        var receive = SourceLines.Of("// wrapped " + "recv");
        var remote = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        var calls = report.Aggregates.Where(a => a.Probe is "openat" or "pread64" or "sendto" or "recvfrom").ToList();
        Assert.All(calls, a => Assert.Equal("EbpfBackendTests.cs", Path.GetFileName(a.File)));
        Assert.Equal(
            [("openat", open, 1L, 0L, path), ("openat", stream, 1L, 0L, path), ("openat", text, 1L, 0L, path), ("pread64", text, 3L, 5_000L, path), ("recvfrom", receive, 1L, 1_000L, remote), ("sendto", send, 1L, 1_000L, remote)],
            calls.Select(a => (a.Probe, a.Line ?? 0, a.Calls, a.Bytes, a.Target)).OrderBy(a => a.Probe, StringComparer.Ordinal).ThenBy(a => a.Item2));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Trace_CallPathResolvedInAnEarlierTrace_KernelStopsTheWalkAtTheCheckpointAndTheLineStays()
    {
        fixture.Require();
        var backend = EbpfFixture.Backend;
        var path = WriteFile("shortcut.bin", 100);
        using var file = File.OpenHandle(path);
        var fd = file.DangerousGetHandle();
        Assert.Equal(100, DeepCall.Level1(fd)); // untraced once: the chain is jitted and in the code map before the traces
        Assert.True(backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));

        var pread = IoTrace.Probes.ProbeCatalog.IndexOf("pread64");
        var stacks = new System.Collections.Concurrent.ConcurrentQueue<ulong[]>();
        backend.FlushApplying = flush =>
        {
            foreach (var aggregate in flush.Aggregates.Values.Where(a => a.Probe == pread))
            {
                stacks.Enqueue(aggregate.Stack);
            }
        };
        IoTraceReport first, second;
        ulong[][] firstStacks;
        try
        {
            first = TraceDeepCall(fd);
            firstStacks = [.. stacks];
            stacks.Clear();
            second = TraceDeepCall(fd);
        }
        finally
        {
            backend.FlushApplying = null;
        }

        // The first trace's walk went past the first checkpoint (6 frames after the ip); resolving it found the app
        // frame there and marked those frames, so the second trace's walk stopped at them. Both have the line.
        var line = SourceLines.Of("// the shortcut" + "'s call");
        foreach (var report in new[] { first, second })
        {
            Assert.True(report.IsComplete);
            var call = Assert.Single(report.Aggregates, a => a.Probe == "pread64");
            Assert.Equal(("EbpfBackendTests.cs", line, 1L, 100L), (Path.GetFileName(call.File), call.Line ?? 0, call.Calls, call.Bytes));
        }

        var full = Assert.Single(firstStacks);
        var cut = Assert.Single(stacks);
        Assert.True(full.Length > 7, $"the first walk ended after {full.Length} frames");
        Assert.Equal(full[..7], cut);
    }

    private static IoTraceReport TraceDeepCall(nint fd) => IoTracer.Trace(Strategy.All, () => DeepCall.Level1(fd));

    [Fact]
    public void Trace_AssemblyLoadedInTheTrace_TheRuntimesOwnIoIsLeftOutUnlessAsked()
    {
        fixture.Require();
        var hiddenCopy = CopyOfAnAssembly("hidden");
        var shownCopy = CopyOfAnAssembly("shown");

        var hidden = IoTracer.Trace(Strategy.All, () => LoadInContextOfItsOwn(hiddenCopy));
        var scope = IoTracer.Start(Strategy.All, new IoTraceStartOptions { IncludeRuntimeIo = true });
        LoadInContextOfItsOwn(shownCopy);
        var shown = scope.Stop();

        // The runtime's loader opens the file, from libcoreclr: the runtime's IO, not the line that asked for the load.
        Assert.Equal(("ebpf", "ebpf"), (hidden.Backend, shown.Backend));
        Assert.DoesNotContain(hidden.Aggregates, a => a.Target == hiddenCopy);
        var opens = shown.Aggregates.Where(a => a.Probe == "openat" && a.Target == shownCopy).ToList();
        Assert.NotEmpty(opens);
        Assert.All(opens, a => Assert.Equal(("(runtime)", null), (a.Method, a.File)));
        Assert.DoesNotContain(hidden.Aggregates, a => a.Method == "(runtime)");
    }

    private string CopyOfAnAssembly(string name)
    {
        // A file of its own, loaded into a context of its own: the runtime opens and reads it in the traced flow.
        var copy = Path.Combine(_directory, $"{name}.dll");
        File.Copy(typeof(Xunit.Assert).Assembly.Location, copy);
        return copy;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LoadInContextOfItsOwn(string path)
    {
        var context = new System.Runtime.Loader.AssemblyLoadContext(path, isCollectible: true);
        _ = context.LoadFromAssemblyPath(path).GetName();
        context.Unload();
    }

    internal static string ByProbe(IoTraceReport report) => KernelBackendAgreement.ByProbe(report);


    private string WriteFile(string name, int size)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, new byte[size]);
        return path;
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

    /// <summary>
    /// Six frames of the test's own between the call and the rest of the stack. Called three times, they stay at tier 0,
    /// which keeps every frame pointer and is never re-jitted between the two traces.
    /// </summary>
    private static class DeepCall
    {
        private static readonly unsafe void* s_buffer = System.Runtime.InteropServices.NativeMemory.Alloc(100);

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static nint Level1(nint fd) => Level2(fd);

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static nint Level2(nint fd) => Level3(fd);

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static nint Level3(nint fd) => Level4(fd);

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static nint Level4(nint fd) => Level5(fd);

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static nint Level5(nint fd) => Level6(fd);

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static unsafe nint Level6(nint fd) => DirectLibc.Pread(fd, (byte*)s_buffer, 100, 0); // the shortcut's call
    }

    private static async Task EchoAsync(Socket peer, int bytes)
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
        var buffer = new byte[bytes];
        var received = 0;
        while (received < bytes)
        {
            received += await peer.ReceiveAsync(buffer.AsMemory(received));
        }

        await peer.SendAsync(buffer);
    }
}
