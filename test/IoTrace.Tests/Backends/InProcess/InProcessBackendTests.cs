using System.Net;
using System.Net.Sockets;
using System.Text;
using IoTrace.Tests.TestSupport;
using IoTrace.Tracing;
using Microsoft.Data.Sqlite;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Tests.Backends.InProcess;

public sealed class InProcessBackendTests : IDisposable
{
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Trace_WaitFeatureOnABlockedReceive_WaitIsWallMinusCpuAndMostOfTheCall()
    {
        Requires.Linux();
        using var blocked = new BlockedReceive();
        var scope = IoTracer.Start(Strategy.Read, new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Wait });
        var received = blocked.Receive();
        var report = scope.Stop();

        BlockedReceive.AssertWaitedMostOfTheCall(report, received);
    }

    [Fact]
    public async Task Trace_ChunkedFileRead_MatchesWhatStraceCountsInTheSameProcess()
    {
        Requires.Linux();
        Requires.Strace();
        var path = _files.Create(100_000);

        var (report, strace, straceLines) = await Strace.RunAsync("read", path);

        var mine = report.Where(a => a.Target == path).ToList();
        Assert.Equal(25 + 1, strace["pread64"].Calls); // 24 full 4 KiB chunks, one of 1696 bytes, the read at EOF
        Assert.Equal(100_000, strace["pread64"].Bytes);
        foreach (var (syscall, (calls, bytes)) in strace)
        {
            Assert.Equal(calls, mine.Where(a => a.Probe == syscall).Sum(a => a.Calls));
            Assert.Equal(bytes, mine.Where(a => a.Probe == syscall).Sum(a => a.Bytes));
        }

        Assert.Equal(strace.Values.Sum(v => v.Calls), mine.Sum(a => a.Calls));
        var pread = Assert.Single(mine, a => a.Probe == "pread64");
        Assert.EndsWith("IoTrace.Tests.Target/Program.cs", pread.File, StringComparison.Ordinal);
        Assert.Equal("29", pread.Line);

        // Resolving that line read the child's PDB inside the trace; the tracer's own IO is never reported.
        Assert.Contains(straceLines, l => l.Contains("IoTrace.Tests.Target.pdb", StringComparison.Ordinal) && l.Contains("openat(", StringComparison.Ordinal));
        Assert.DoesNotContain(report, a => a.Target.EndsWith(".pdb", StringComparison.Ordinal));
        Assert.Equal([path], report.Select(a => a.Target).Distinct());
    }

    [Fact]
    public async Task Trace_FileSystemWork_MatchesStraceCallForCall()
    {
        Requires.Linux();
        Requires.Strace();

        var (report, _, log) = await Strace.RunAsync("files", _files.Directory);

        var (files, socket) = FileSystemWorkStrace.Read(log, _files.Directory);
        var reported = FileSystemWorkStrace.Reported(report.Select(static a => (a.Probe, (string?)a.Target, a.Calls, a.Bytes)), _files.Directory);

        // File.Copy's copy_file_range, which libSystem.Native makes through syscall(2), and the directory listing's
        // calls, made inside libc's opendir, readdir and closedir, are counted too.
        Assert.Equal(["copy_file_range 1 3000"], FileSystemWorkStrace.Lines(files.Where(static c => c.Name == "copy_file_range")));
        Assert.Equal(["close 1 0", "getdents64 2 136", "newfstatat 1 0", "openat 1 0"], FileSystemWorkStrace.Lines(files.Where(c => FileSystemWorkStrace.OnTheFoldersFd(c, _files.Directory))));
        Assert.Equal(FileSystemWorkStrace.Lines(files), reported.Files);
        Assert.Equal(["bind 1 0", "getsockname 1 0", "getsockopt 1 0", "listen 1 0", "setsockopt 2 0"], reported.Socket);
        Assert.Equal(FileSystemWorkStrace.Lines(socket), reported.Socket);
    }

    /// <summary>Path.GetTempFileName and Directory.CreateTempSubdirectory: glibc's mkstemps and mkdtemp open and mkdir inside libc.</summary>
    [Fact]
    public async Task Trace_TemporaryFileAndFolder_MatchesStraceCallForCall()
    {
        Requires.Linux();
        Requires.Strace();

        var (report, _, log) = await Strace.RunAsync("temp", _files.Directory);

        var under = Path.TrimEndingDirectorySeparator(_files.Directory) + "/";
        // The folder is also in the child's command line (execve): not the work's.
        var straced = StraceLog.Calls(log).Where(c => c.Name != "execve" && StraceLog.NamesPathUnder(c, _files.Directory)).ToList();
        Assert.Contains(straced, static c => c.Name == "openat" && c.Text.Contains("O_EXCL", StringComparison.Ordinal));
        Assert.Contains(straced, static c => c.Name == "mkdir");
        var reported = report.Where(a => a.Target.StartsWith(under, StringComparison.Ordinal)).ToList();
        Assert.Equal(StraceLog.Lines(straced), StraceLog.Lines(reported.GroupBy(static a => a.Probe).Select(static g => (g.Key, g.Sum(static a => a.Calls), g.Sum(static a => a.Bytes)))));
        Assert.All(reported, static a => Assert.EndsWith("IoTrace.Tests.Target/Program.cs", a.File, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(Strategy.Summary)]
    [InlineData(Strategy.All)]
    public void Trace_DirectoryListing_CountsTheCallsLibcMakesInsideOpendirReaddirClosedir(Strategy strategy)
    {
        Requires.Linux();
        var folder = Directory.CreateDirectory(_files.PathFor("listed")).FullName;
        foreach (var name in (string[])["a", "b", "c"])
        {
            File.WriteAllText(Path.Combine(folder, name), name);
        }

        var report = IoTracer.Trace(strategy, () => Assert.Equal(3, Directory.GetFiles(folder).Length));

        // openat and newfstatat in opendir, getdents64 until it reads nothing, close in closedir: as strace shows them.
        var listing = report.Aggregates.Where(a => strategy == Strategy.Summary || a.Target == folder)
            .GroupBy(static a => a.Probe).Select(static g => $"{g.Key} {g.Sum(static a => a.Calls)}").Order(StringComparer.Ordinal);
        Assert.Equal(["close 1", "getdents64 2", "newfstatat 1", "openat 1"], listing);
        Assert.True(report.Aggregates.Where(static a => a.Probe == "getdents64").Sum(static a => a.Bytes) > 0);
    }

    /// <summary>
    /// Name resolution reads files and may ask a DNS server from inside libc, out of the hooks' reach: its getaddrinfo
    /// call stands for it, with the host name, in the flow that resolved it, also when that ran on the thread pool.
    /// </summary>
    [Fact]
    public async Task Trace_NameResolution_OneGetaddrinfoCallPerResolutionWithTheHostName()
    {
        Requires.Linux();

        var report = await IoTracer.TraceAsync(Strategy.Setup, async () =>
        {
            _ = Dns.GetHostAddresses("localhost");
            _ = await Dns.GetHostAddressesAsync("localhost", TestContext.Current.CancellationToken);
        });

        // The synchronous one on this test's line; the other, on a pool thread with no frame of the app, without one.
        var resolutions = report.Aggregates.Where(static a => a.Probe == "getaddrinfo").ToList();
        Assert.Equal(2, resolutions.Sum(static a => a.Calls));
        Assert.All(resolutions, static a => Assert.Equal(("localhost", (int?)null), (a.Target, a.Fd)));
        Assert.Contains(resolutions, static a => a.File?.EndsWith("InProcessBackendTests.cs", StringComparison.Ordinal) == true);
        Assert.True(resolutions.Sum(static a => a.Time.Ticks) > 0);
    }

    /// <summary>
    /// A reverse resolution is a getnameinfo call naming the address, then, as Dns.GetHostEntry looks the name it found
    /// up again for the entry's addresses, a getaddrinfo call naming that name.
    /// </summary>
    [Fact]
    public async Task Trace_ReverseNameResolution_OneGetnameinfoCallWithTheAddress()
    {
        Requires.Linux();

        var report = await IoTracer.TraceAsync(Strategy.Setup, async () =>
        {
            // /etc/hosts names the loopback address. Through a hook that lost getnameinfo's seventh argument, its
            // flags, the lookup answered with the address itself.
            var entry = Dns.GetHostEntry(IPAddress.Loopback);
            Assert.NotEqual("127.0.0.1", entry.HostName);
            _ = await Dns.GetHostEntryAsync(IPAddress.Loopback);
        });

        // The synchronous one on this test's line; the other, on a pool thread with no frame of the app, without one.
        var reverse = report.Aggregates.Where(static a => a.Probe == "getnameinfo").ToList();
        Assert.Equal(2, reverse.Sum(static a => a.Calls));
        Assert.All(reverse, static a => Assert.Equal(("127.0.0.1", (int?)null), (a.Target, a.Fd)));
        Assert.Contains(reverse, static a => a.File?.EndsWith("InProcessBackendTests.cs", StringComparison.Ordinal) == true);
        Assert.Equal(2, report.Aggregates.Where(static a => a.Probe == "getaddrinfo").Sum(static a => a.Calls));
    }

    [Fact]
    public async Task Trace_SqliteLoadedInsideTheTrace_ReportsTheDatabaseIoStraceSees()
    {
        Requires.Linux();
        Requires.Strace();
        var path = _files.PathFor("items.db");
        CreateDatabase(path, rows: 50);

        var (report, strace, _) = await Strace.RunAsync("sqlite", path);

        var mine = report.Where(a => a.Target == path).ToList();
        Assert.True(strace["pread64"].Bytes > 50 * 1000, "the query reads every row's payload");
        foreach (var (syscall, (calls, bytes)) in strace)
        {
            Assert.Equal(calls, mine.Where(a => a.Probe == syscall).Sum(a => a.Calls));
            Assert.Equal(bytes, mine.Where(a => a.Probe == syscall).Sum(a => a.Bytes));
        }

        // Opening happens on the Open() line, the page reads on the ExecuteReader() line.
        Assert.Equal(["37"], mine.Where(a => a.Probe == "openat").Select(a => a.Line));
        Assert.Contains("40", mine.Where(a => a.Probe == "pread64").Select(a => a.Line));
    }

    [Fact]
    public void Trace_SqliteInProcess_AttributesDatabaseReadsToTheQueryLine()
    {
        Requires.Linux();
        var path = _files.PathFor("query.db");
        CreateDatabase(path, rows: 20);
        var queryLine = 0;

        var report = IoTracer.Trace(Strategy.All, () =>
        {
            using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT sum(length(payload)) FROM items";
            queryLine = Here.Line(); Assert.Equal(20 * 1000L, (long)command.ExecuteScalar()!);
        });

        var reads = report.For(path).Where(a => a.Probe == "pread64" && a.Line == queryLine).ToList();
        Assert.NotEmpty(reads);
        Assert.True(reads.Sum(a => a.Bytes) >= 20 * 1000, "the query reads every payload page");
        Assert.Equal(1, report.For(path).Calls("openat"));
    }

    [Fact]
    public void Trace_FlowContinuesOnAThreadThatNeverRanATrace_ItsCallsAreCharged()
    {
        Requires.Linux();
        var path = _files.Create(3000);
        var read = 0;

        // A new thread starts in the flow that started it, so its IO belongs to the trace.
        var report = IoTracer.Trace(Strategy.Read, () =>
        {
            var thread = new Thread(() => read = File.ReadAllBytes(path).Length);
            thread.Start();
            thread.Join();
        });

        Assert.Equal(3000, read);
        Assert.Equal(3000, report.Aggregates.Where(a => a.Probe == "pread64").Sum(a => a.Bytes));
    }

    [Fact]
    public async Task Trace_LoopbackTcpExchange_ReportsExactBytesPerDirectionAndThePeer()
    {
        Requires.Linux();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var peer = (IPEndPoint)listener.LocalEndpoint;
        var request = Encoding.ASCII.GetBytes(new string('q', 1000));
        var response = Encoding.ASCII.GetBytes(new string('r', 3000));
        var server = Task.Run(() => Serve(listener, request.Length, response), TestContext.Current.CancellationToken);
        var connectLine = 0;

        var report = IoTracer.Trace(Strategy.All, () =>
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            connectLine = Here.Line(); client.Connect(peer);
            client.Send(request);
            var buffer = new byte[response.Length];
            for (var received = 0; received < buffer.Length;)
            {
                received += client.Receive(buffer.AsSpan(received));
            }
        });
        await server;

        var target = peer.ToString();
        var connect = Assert.Single(report.Aggregates, a => a.Probe == "connect");
        Assert.Equal(target, connect.Target);
        Assert.Equal(connectLine, connect.Line);
        Assert.Equal(1000, report.For(target).BytesWritten());
        Assert.Equal(3000, report.For(target).BytesRead());
        Assert.Equal(1, report.Aggregates.Calls("socket"));
        Assert.All(report.For(target), a => Assert.Equal(connect.Fd, a.Fd));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Trace_SharedConnectionsCallsOutsideTheTrace_ReportedAsSharedNotAsTheTraces()
    {
        Requires.Linux();
        SharedConnectionWork.TraceAndCheck();
    }

    /// <summary>
    /// Calls on a socket before its connect (its flags set, as the runtime does before an async connect) report the
    /// peer, as the kernel backend does: one target per fd life, the one it ends the trace with.
    /// </summary>
    [Fact]
    public void Trace_SocketCallsBeforeItsConnect_AllReportThePeer()
    {
        Requires.Linux();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var peer = (IPEndPoint)listener.LocalEndpoint;

        var report = IoTracer.Trace(Strategy.Setup, () =>
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Blocking = false; // before the connect
            client.Blocking = true;
            client.Connect(peer);
        });

        var connect = Assert.Single(report.Aggregates, a => a.Probe == "connect");
        var socket = report.Aggregates.Where(a => a.Fd == connect.Fd).ToList();
        // getsockopt: the connect's outcome (SO_ERROR) once poll says it completed.
        Assert.Equal(["close", "connect", "fcntl", "getsockopt", "poll", "socket"], socket.Select(a => a.Probe).Order(StringComparer.Ordinal));
        Assert.All(socket, a => Assert.Equal(peer.ToString(), a.Target));

        // Blocking = false: F_GETFL and F_SETFL; Blocking = true only changes the managed flag (the connect polls).
        Assert.Equal(2, Assert.Single(socket, a => a.Probe == "fcntl").Calls);
    }

    [Theory]
    [InlineData(Strategy.All)]
    [InlineData(Strategy.Read)]
    [InlineData(Strategy.Summary)]
    public async Task TraceAsync_HttpCallToSlowLoopbackServer_ChargesTheDeferredReceiveToTheTrace(Strategy strategy)
    {
        Requires.Linux();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var peer = (IPEndPoint)listener.LocalEndpoint;
        var body = Encoding.ASCII.GetBytes(new string('b', 20_000));
        var headers = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        var bodyGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = Task.Run(() => ServeHttp(listener, headers, body, bodyGate.Task), TestContext.Current.CancellationToken);
        var pendingBeforeBodySent = false;

        var report = await IoTracer.TraceAsync(strategy, async () =>
        {
            using var http = new HttpClient();
            using var response = await http.GetAsync($"http://{peer}/", HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
            await using var stream = await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken);
            var buffer = new byte[body.Length];
            var read = stream.ReadAsync(buffer, TestContext.Current.CancellationToken).AsTask();
            pendingBeforeBodySent = !read.IsCompleted;
            bodyGate.SetResult();
            var received = await read;
            while (received < body.Length)
            {
                received += await stream.ReadAsync(buffer.AsMemory(received), TestContext.Current.CancellationToken);
            }
        });
        var requestBytes = await server;

        Assert.True(pendingBeforeBodySent, "the body read waited for the server (EAGAIN, then a runtime thread)");
        if (strategy == Strategy.Summary)
        {
            // Summary has no targets: the process did no other socket IO in this flow.
            Assert.Equal(headers.Length + body.Length, report.Aggregates.Bytes("recvfrom") + report.Aggregates.Bytes("recvmsg"));
            Assert.Equal(requestBytes, report.Aggregates.Bytes("sendto") + report.Aggregates.Bytes("sendmsg"));
            return;
        }

        var target = peer.ToString();
        Assert.Equal(headers.Length + body.Length, report.For(target).BytesRead());
        Assert.Equal(strategy == Strategy.All ? requestBytes : 0, report.For(target).BytesWritten());
    }

    [Fact]
    public async Task TraceAsync_HttpClientAfterAFileRead_AttributesTheHttpIoToTheHttpLine()
    {
        Requires.Linux();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var peer = (IPEndPoint)listener.LocalEndpoint;
        var body = Encoding.ASCII.GetBytes("hello");
        var headers = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        var server = Task.Run(() => ServeHttp(listener, headers, body, Task.CompletedTask), TestContext.Current.CancellationToken);
        var file = _files.Create(500);
        int fileLine = 0, httpLine = 0;

        var report = await IoTracer.TraceAsync(Strategy.All, async () =>
        {
            fileLine = Here.Line(); File.ReadAllBytes(file);
            using var http = new HttpClient();
            httpLine = Here.Line(); Assert.Equal("hello", await http.GetStringAsync($"http://{peer}/", TestContext.Current.CancellationToken));
        });
        await server;

        var target = peer.ToString();
        Assert.Equal(headers.Length + body.Length, report.For(target).BytesRead());
        Assert.All(report.For(target), a => Assert.Equal((Here.File(), httpLine), (a.File!, a.Line!.Value)));
        Assert.All(report.For(file), a => Assert.Equal(fileLine, a.Line));
    }

    [Fact]
    public async Task Start_RedactionAll_ReportsPseudonymsForFilesAndPeersOnly()
    {
        Requires.Linux();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var peer = (IPEndPoint)listener.LocalEndpoint;
        var server = Task.Run(() => Serve(listener, 10, new byte[20]), TestContext.Current.CancellationToken);
        var path = _files.Create(300);

        IoTraceReport report;
        using (var scope = IoTracer.Start(Strategy.All, new IoTraceStartOptions { Redaction = IoTraceRedaction.All }))
        {
            File.ReadAllBytes(path);
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(peer);
            client.Send(new byte[10]);
            var buffer = new byte[20];
            for (var received = 0; received < buffer.Length;)
            {
                received += client.Receive(buffer.AsSpan(received));
            }

            report = scope.Stop();
        }

        await server;
        var text = report.ToString("default") + report.ToString("fds");
        Assert.DoesNotContain(path, text, StringComparison.Ordinal);
        Assert.DoesNotContain(peer.ToString(), text, StringComparison.Ordinal);
        var fileTargets = report.Aggregates.Where(a => a.Probe == "pread64").Select(a => a.Target).Distinct();
        Assert.Matches("^file#[0-9a-f]{8}$", Assert.Single(fileTargets));
        Assert.Equal(300, report.Aggregates.Bytes("pread64"));
        var peerTargets = report.Aggregates.Where(a => a.Probe is "connect" or "sendto" or "recvfrom").Select(a => a.Target).Distinct();
        Assert.Matches("^peer#[0-9a-f]{8}$", Assert.Single(peerTargets));
        Assert.Equal(10, report.Aggregates.Bytes("sendto"));
        Assert.Equal(Path.GetFileName(Here.File()), Assert.Single(report.Aggregates, a => a.Probe == "connect").File);
    }

    [Fact]
    public void Trace_PInvokeStraightIntoLibc_IsNotSeenByThisBackend()
    {
        // The documented limit of the in-process backend (README, platform table): only calls made through
        // libSystem.Native or a native library in the app's folder are rebound.
        Requires.Linux();
        var path = _files.Create(4096);
        using var handle = File.OpenHandle(path);
        var buffer = new byte[4096];

        var report = IoTracer.Trace(Strategy.All, () => Assert.Equal(4096, LibcRead((int)handle.DangerousGetHandle(), buffer, buffer.Length)));

        Assert.Empty(report.Aggregates);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "read")]
    private static extern nint LibcRead(int fd, byte[] buffer, nint count);

    private static async Task Serve(TcpListener listener, int requestLength, byte[] response)
    {
        using var socket = await listener.AcceptSocketAsync();
        var buffer = new byte[requestLength];
        for (var received = 0; received < requestLength;)
        {
            received += await socket.ReceiveAsync(buffer.AsMemory(received));
        }

        await socket.SendAsync(response);
        socket.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Answers one GET: headers at once, the body when the gate opens. Returns the request's size.</summary>
    private static async Task<int> ServeHttp(TcpListener listener, byte[] headers, byte[] body, Task bodyGate)
    {
        using var socket = await listener.AcceptSocketAsync();
        var request = new List<byte>();
        var buffer = new byte[4096];
        while (!Encoding.ASCII.GetString([.. request]).Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await socket.ReceiveAsync(buffer);
            request.AddRange(buffer.AsSpan(0, n));
        }

        await socket.SendAsync(headers);
        await bodyGate;
        await socket.SendAsync(body);
        socket.Shutdown(SocketShutdown.Send);
        return request.Count;
    }

    private static void CreateDatabase(string path, int rows)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "CREATE TABLE items(id INTEGER PRIMARY KEY, payload BLOB)";
        command.ExecuteNonQuery();
        command.CommandText = "INSERT INTO items(payload) VALUES (randomblob(1000))";
        for (var i = 0; i < rows; i++)
        {
            command.ExecuteNonQuery();
        }
    }
}
