using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IoTrace.Tracing;
using IoTrace.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Tests.Backends.InProcess;

/// <summary>
/// IO the happy path never makes: empty reads, signals, EAGAIN storms, fds closed under a blocked call, files
/// replaced while open, offsets past 4 GiB. The traced code must see exactly what it sees untraced, and the counts
/// must match what the kernel did (strace, where a second opinion helps).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class StrangeIoTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Trace_ZeroLengthAndEndOfFileReads_CountEachCallWithZeroBytes()
    {
        Requires.Linux();
        var path = _files.Create(100);
        using var handle = File.OpenHandle(path);
        var buffer = new byte[10];
        int emptyLine = 0, endLine = 0;
        int empty = -1, atEnd = -1;

        // Both still reach the kernel: pread64(fd, NULL, 0, 0) and pread64(fd, buf, 10, 100), each returning 0.
        var report = IoTracer.Trace(Strategy.Read, () =>
        {
            empty = RandomAccess.Read(handle, Span<byte>.Empty, 0); emptyLine = Here.Line();
            atEnd = RandomAccess.Read(handle, buffer, 100); endLine = Here.Line();
        });

        Assert.Equal((0, 0), (empty, atEnd));
        Assert.Equal(
            [("pread64", emptyLine, path, 1L, 0L), ("pread64", endLine, path, 1L, 0L)],
            report.Aggregates.Select(a => (a.Probe, a.Line!.Value, a.Target, a.Calls, a.Bytes)));
        Assert.Equal((2L, 0L), (report.TotalCalls, report.TotalBytes));
    }

    [Fact]
    public void Trace_ZeroByteSocketReceive_CountsThePeekItIsMadeOf()
    {
        Requires.Linux();
        using var pair = LoopbackPair.Connect();
        var buffer = new byte[64];
        int waitLine = 0, readLine = 0;
        int waited = -1, received = -1;
        pair.Server.Send("ready"u8);

        // A zero-byte receive waits for data without consuming any. .NET makes it a one-byte peek (strace:
        // recvmsg(fd, {iov_len=1}, MSG_PEEK) = 1): the report counts what the kernel returned, as strace does,
        // so the peeked byte counts again when the next receive reads it.
        var report = IoTracer.Trace(Strategy.Read, () =>
        {
            waited = pair.Client.Receive(Span<byte>.Empty); waitLine = Here.Line();
            received = pair.Client.Receive(buffer); readLine = Here.Line();
        });

        Assert.Equal((0, 5), (waited, received));
        Assert.Equal(
            [("recvmsg", waitLine, pair.Peer, 1L, 1L), ("recvmsg", readLine, pair.Peer, 1L, 5L)],
            report.Aggregates.Select(a => (a.Probe, a.Line!.Value, a.Target, a.Calls, a.Bytes)));
    }

    [Fact]
    public async Task Trace_PipeReadInterruptedBySignal_KernelRestartsItAndBothSidesCountOneRead()
    {
        Requires.Linux();
        Requires.Strace();

        // The child blocks in a traced pipe read, gets SIGWINCH on that thread, then data (Target "eintr" mode).
        var (report, _, straceLines) = await Strace.RunAsync("eintr", _files.PathFor("eintr"));

        var read = Assert.Single(report, a => a.Probe == "read");
        Assert.StartsWith("pipe:[", read.Target, StringComparison.Ordinal);
        Assert.Equal((1L, 5L), (read.Calls, read.Bytes));

        // strace saw the read interrupted (ERESTARTSYS, restarted by the kernel: SA_RESTART) and completed once.
        var strace = Strace.Parse(straceLines, read.Target);
        Assert.Equal((1L, 5L), strace["read"]);
        var reader = straceLines.First(l => l.Contains(" read(", StringComparison.Ordinal) && l.Contains($"<{read.Target}>", StringComparison.Ordinal)).Split(' ')[0];
        Assert.Contains(straceLines, l => l.StartsWith(reader + " ", StringComparison.Ordinal) && l.Contains("read", StringComparison.Ordinal) && l.Contains("ERESTARTSYS", StringComparison.Ordinal));

        // The signal handler wrote to the runtime's signal pipe on the traced thread: never in the report.
        Assert.Equal(["fcntl", "fstat", "read"], report.Select(a => a.Probe).Order());
        Assert.All(report, a => Assert.Equal(read.Target, a.Target));
    }

    [Fact]
    public async Task Trace_SocketReceiveWithTimeoutInterruptedBySignal_CountsTheEintrAndTheRetry()
    {
        Requires.Linux();
        using var pair = LoopbackPair.Connect();

        // With SO_RCVTIMEO set, recv is never restarted by the kernel: it fails with EINTR and libSystem.Native's
        // retry loop calls it again. The hook sees both calls, as strace does (recvmsg = -1 EINTR, recvmsg = 5).
        pair.Client.ReceiveTimeout = (int)s_timeout.TotalMilliseconds;
        var buffer = new byte[64];
        var received = -1;
        var line = 0;
        using var blocked = BlockedThread.Start(() => IoTracer.Trace(Strategy.Read, () =>
        {
            received = pair.Client.Receive(buffer); line = Here.Line();
        }));
        blocked.WaitUntilInSyscall(Syscalls.RecvMsg);

        await blocked.InterruptAsync();
        pair.Server.Send("hello"u8);
        var report = blocked.Join();

        Assert.Equal(5, received);
        Assert.Equal("hello"u8.ToArray(), buffer[..5]);
        var aggregate = Assert.Single(report.Aggregates);
        Assert.Equal(("recvmsg", line, pair.Peer, 2L, 5L), (aggregate.Probe, aggregate.Line!.Value, aggregate.Target, aggregate.Calls, aggregate.Bytes));
    }

    [Fact]
    public void Trace_EagainStorm_CountsEveryAttemptUnderTheSocketsPeerAndTheDataExactly()
    {
        Requires.Linux();
        using var pair = LoopbackPair.Connect();
        pair.Client.Blocking = false;
        var buffer = new byte[64];
        var results = new List<(int Received, SocketError Error)>();
        var line = 0;
        TraceSession? owner = null;

        var report = IoTracer.Trace(Strategy.Read, () =>
        {
            for (var i = 0; i < 1000; i++)
            {
                results.Add(Receive());
            }

            owner = FdOwners.Get(pair.ClientFd)?.Session;

            // Loopback delivery is not guaranteed to be done when send returns: keep trying, and count the tries.
            pair.Server.Send("after the storm"u8);
            while (results[^1].Error == SocketError.WouldBlock)
            {
                results.Add(Receive());
            }
        });

        // Every attempt saw exactly what it sees untraced: nothing, then the data (errno intact: WouldBlock).
        Assert.All(results[..^1], r => Assert.Equal((0, SocketError.WouldBlock), r));
        Assert.Equal((15, SocketError.Success), results[^1]);
        Assert.Equal("after the storm"u8.ToArray(), buffer[..15]);
        var aggregate = Assert.Single(report.Aggregates);
        Assert.Equal(("recvfrom", line, pair.Peer, (long)results.Count, 15L), (aggregate.Probe, aggregate.Line!.Value, aggregate.Target, aggregate.Calls, aggregate.Bytes));

        // The trace owned the fd while it waited (EAGAIN completions on runtime threads are charged to it) ...
        Assert.NotNull(owner);
        Assert.False(owner.IsActive);

        // ... and nothing else does once it ended: a later receive on that fd, outside any trace, is charged nowhere.
        Assert.Null(FdOwners.Get(pair.ClientFd));
        using (var other = IoTracer.Start(Strategy.Read))
        {
            pair.Server.Send("late"u8);

            // UnsafeStart: the thread gets no execution context, so no trace of its own.
            var outside = new Thread(() => SpinWait.SpinUntil(() => pair.Client.Receive(buffer, SocketFlags.None, out _) > 0, s_timeout));
            outside.UnsafeStart();
            Assert.True(outside.Join(s_timeout));

            Assert.Empty(other.Stop().Aggregates);
        }

        (int, SocketError) Receive()
        {
            var received = pair.Client.Receive(buffer, SocketFlags.None, out var error); line = Here.Line();
            return (received, error);
        }
    }

    [Fact]
    public void Trace_SocketShutDownByAnotherThreadMidReceive_ReceiveReturnsZeroAndOneCallIsCounted()
    {
        Requires.Linux();
        using var pair = LoopbackPair.Connect();
        var received = -1;
        using var blocked = BlockedThread.Start(() => IoTracer.Trace(Strategy.Read, () => received = pair.Client.Receive(new byte[64])));
        blocked.WaitUntilInSyscall(Syscalls.RecvMsg);

        // Another thread, outside the trace, shuts the socket down under the blocked call: recv returns 0 (EOF).
        pair.Client.Shutdown(SocketShutdown.Both);
        var report = blocked.Join();

        Assert.Equal(0, received);
        var aggregate = Assert.Single(report.Aggregates);
        Assert.Equal(("recvmsg", pair.Peer, 1L, 0L), (aggregate.Probe, aggregate.Target, aggregate.Calls, aggregate.Bytes));
    }

    [Fact]
    public void Trace_SocketDisposedByAnotherThreadMidReceive_AppGetsTheUntracedErrorAndOneCallIsCounted()
    {
        Requires.Linux();

        // Socket.Dispose from another thread aborts the blocked receive: the app gets ConnectionAborted, traced or not.
        var untraced = ReceiveWhileDisposed(traced: false);
        var traced = ReceiveWhileDisposed(traced: true);

        Assert.Equal(SocketError.ConnectionAborted, untraced.Error);
        Assert.Equal(untraced.Error, traced.Error);
        var aggregate = Assert.Single(traced.Report!.Aggregates);
        Assert.Equal(("recvmsg", 1L, 0L), (aggregate.Probe, aggregate.Calls, aggregate.Bytes));

        // When the failed call is recorded the socket is still open but has no peer left to name (getpeername fails),
        // so the target is the socket's inode, as strace -y prints it.
        Assert.Matches(@"^socket:\[\d+\]$", aggregate.Target);
    }

    [Fact]
    public async Task Trace_OwnedSocketClosingWhileItsNumberIsReused_TheNewFilesWriteIsNotCharged()
    {
        Requires.Linux();
        var path = _files.PathFor("reuses-the-socket-number.bin");

        // Other tests run in parallel in this process: one of them may take the freed number first and hold it for
        // the whole linger. That is no outcome of the tracer, so the scenario runs again on a new socket.
        for (var attempt = 1; ; attempt++)
        {
            var (report, writer) = await TraceCloseWhileAFileTakesItsNumberAsync(path);
            if (writer == NumberNeverReused && attempt < 5)
            {
                continue;
            }

            Assert.Null(writer);
            Assert.DoesNotContain(report.Aggregates, a => a.Probe == "pwrite64");
            Assert.Equal(7_777, new FileInfo(path).Length);
            return;
        }
    }

    private const string NumberNeverReused = "no file got the socket's number while its close lingered";

    private static async Task<(IoTraceReport Report, string? Writer)> TraceCloseWhileAFileTakesItsNumberAsync(string path)
    {
        using var pair = LoopbackPair.Connect();
        var socketFd = pair.ClientFd;
        var closed = new StrongBox<bool>();
        Task<string?> writer = Task.FromResult<string?>("not started");

        var report = IoTracer.Trace(Strategy.All, () =>
        {
            // An EAGAIN makes the trace the socket's owner (a runtime thread would finish the read). Full send
            // buffers and a linger make its close block after the kernel has freed the number.
            pair.Client.Blocking = false;
            Assert.Equal(SocketError.WouldBlock, Assert.Throws<SocketException>(() => pair.Client.Receive(new byte[1])).SocketErrorCode);
            var chunk = new byte[64 * 1024];
            Assert.Equal(SocketError.WouldBlock, Assert.Throws<SocketException>(FillSendBuffers).SocketErrorCode);
            pair.Client.LingerState = new LingerOption(true, 2);

            void FillSendBuffers()
            {
                while (true)
                {
                    pair.Client.Send(chunk);
                }
            }

            // Outside the trace: opens files until one gets the socket's number, and writes to it while the close lingers.
            using (ExecutionContext.SuppressFlow())
            {
                writer = Task.Run(() => WriteOnceTheNumberIsFree(path, socketFd, closed));
            }

            pair.Client.Dispose();
            Volatile.Write(ref closed.Value, true);
        });

        return (report, await writer.WaitAsync(s_timeout, TestContext.Current.CancellationToken));
    }

    /// <summary>
    /// Opens <paramref name="path"/> until it gets <paramref name="fd"/> (keeping lower numbers that come free meanwhile,
    /// so the kernel's lowest-free choice reaches it), then writes 7,777 bytes; null if that happened before the close returned.
    /// </summary>
    private static string? WriteOnceTheNumberIsFree(string path, int fd, StrongBox<bool> closed)
    {
        var lower = new List<Microsoft.Win32.SafeHandles.SafeFileHandle>();
        try
        {
            while (!Volatile.Read(ref closed.Value))
            {
                var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.Write);
                var number = (int)handle.DangerousGetHandle();
                if (number == fd)
                {
                    using (handle)
                    {
                        RandomAccess.Write(handle, new byte[7_777], 0);
                    }

                    return Volatile.Read(ref closed.Value) ? "the write came after the close had returned" : null;
                }

                if (number < fd)
                {
                    lower.Add(handle);
                }
                else
                {
                    handle.Dispose();
                }
            }

            return NumberNeverReused;
        }
        finally
        {
            lower.ForEach(h => h.Dispose());
        }
    }

    [Fact]
    public void Trace_FileReplacedWhileOpen_ReadsTheOpenFilesBytesUnderTheOpenedPath()
    {
        Requires.Linux();
        var path = _files.Create(3000, "replaced.bin");
        var original = File.ReadAllBytes(path);
        var replacement = _files.Create(5000, "replacement.bin");
        byte[] read = [];
        byte[] reopened = [];

        var report = IoTracer.Trace(Strategy.Read, () =>
        {
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0))
            {
                // rename(2) over the open file: the fd keeps the old inode, the path now names the new one.
                File.Move(replacement, path, overwrite: true);
                read = new byte[4096];
                read = read[..file.ReadAtLeast(read, read.Length, throwOnEndOfStream: false)];
            }

            reopened = File.ReadAllBytes(path);
        });

        Assert.Equal(original, read);
        Assert.Equal(5000, reopened.Length);

        // The open fd reads 3000 bytes then EOF; the new file is read in one call. Both under the path they were opened by.
        Assert.Equal(2 + 1, report.Aggregates.Calls("pread64"));
        Assert.Equal(3000 + 5000, report.For(path).Bytes("pread64"));
        Assert.Equal([path], report.Aggregates.Select(a => a.Target).Distinct());
    }

    [Fact]
    public async Task Trace_SparseFileReadPast4GiB_OffsetsReachTheKernelIntactAndBytesMatchStrace()
    {
        Requires.Linux();
        Requires.Strace();
        var path = _files.PathFor("sparse.bin");
        using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write))
        {
            // Distinct bytes past 2^31 and 2^32, and at 100, where a 32-bit truncated offset 2^32 + 100 would land.
            RandomAccess.Write(handle, Enumerable.Repeat((byte)0xC3, 4096).ToArray(), 100);
            RandomAccess.Write(handle, Enumerable.Repeat((byte)0xA1, 4096).ToArray(), (1L << 31) + 100);
            RandomAccess.Write(handle, Enumerable.Repeat((byte)0xB2, 4096).ToArray(), (1L << 32) + 100);
            RandomAccess.SetLength(handle, (1L << 32) + (1L << 20));
        }

        // The child checks the bytes it reads and fails otherwise (Target "sparse" mode).
        var (report, strace, straceLines) = await Strace.RunAsync("sparse", path);

        var mine = report.Where(a => a.Target == path).ToList();
        Assert.Equal((4L, 8192L), strace["pread64"]); // the zero-length read, 4096 past 2^31, 4096 past 2^32, EOF
        foreach (var (syscall, (calls, bytes)) in strace)
        {
            Assert.Equal(calls, mine.Where(a => a.Probe == syscall).Sum(a => a.Calls));
            Assert.Equal(bytes, mine.Where(a => a.Probe == syscall).Sum(a => a.Bytes));
        }

        Assert.Equal(strace.Values.Sum(v => v.Calls), mine.Sum(a => a.Calls));
        Assert.Contains(straceLines, l => l.Contains($"<{path}>", StringComparison.Ordinal) && l.EndsWith(", 4096, 2147483748) = 4096", StringComparison.Ordinal));
        Assert.Contains(straceLines, l => l.Contains($"<{path}>", StringComparison.Ordinal) && l.EndsWith(", 4096, 4294967396) = 4096", StringComparison.Ordinal));
    }

    private static (SocketError Error, IoTraceReport? Report) ReceiveWhileDisposed(bool traced)
    {
        using var pair = LoopbackPair.Connect();
        var error = SocketError.Success;
        void Receive()
        {
            try
            {
                pair.Client.Receive(new byte[64]);
            }
            catch (SocketException e)
            {
                error = e.SocketErrorCode;
            }
        }

        using var blocked = BlockedThread.Start(() => traced ? IoTracer.Trace(Strategy.Read, Receive) : NotTraced(Receive));
        blocked.WaitUntilInSyscall(Syscalls.RecvMsg);
        pair.Client.Dispose();
        var report = blocked.Join();
        return (error, traced ? report : null);
    }

    private static IoTraceReport? NotTraced(Action body)
    {
        body();
        return null;
    }

    /// <summary>Syscall numbers, as /proc/&lt;pid&gt;/task/&lt;tid&gt;/syscall shows the one a thread is blocked in.</summary>
    private static class Syscalls
    {
        public static readonly int RecvMsg = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 212 : 47;
    }

    /// <summary>Two ends of a loopback TCP connection, connected outside any trace.</summary>
    private sealed class LoopbackPair : IDisposable
    {
        private LoopbackPair(Socket client, Socket server)
        {
            Client = client;
            Server = server;
            Peer = server.LocalEndPoint!.ToString()!;
        }

        public Socket Client { get; }

        public Socket Server { get; }

        /// <summary>The client's peer as a report's Target names it.</summary>
        public string Peer { get; }

        public int ClientFd => (int)Client.SafeHandle.DangerousGetHandle();

        // Synchronous on purpose: a socket that ever ran an async operation is switched to non-blocking mode, and
        // its synchronous calls then wait in a futex instead of in the kernel's recv.
        public static LoopbackPair Connect()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen();
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Connect(listener.LocalEndPoint!);
            return new LoopbackPair(client, listener.Accept());
        }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
        }
    }

    /// <summary>
    /// A dedicated thread running a traced body that blocks in a system call. The test waits until the kernel shows
    /// the thread asleep in that call (/proc/self/task/&lt;tid&gt;/syscall), so what it does next happens mid-call.
    /// </summary>
    private sealed class BlockedThread : IDisposable
    {
        private const int Sigwinch = 28;

        private readonly Thread _thread;
        private readonly SemaphoreSlim _signalled = new(0);
        private readonly PosixSignalRegistration _registration;
        private IoTraceReport? _report;
        private Exception? _failure;
        private int _tid;
        private string? _lastSeen;

        private BlockedThread(Func<IoTraceReport?> body)
        {
            // A handler makes SIGWINCH interrupt the call (ignored signals do not); it also tells us it ran.
            _registration = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, context =>
            {
                context.Cancel = true;
                _signalled.Release();
            });
            _thread = new Thread(() =>
            {
                Volatile.Write(ref _tid, GetTid());
                try
                {
                    _report = body();
                }
                catch (Exception e)
                {
                    _failure = e;
                }
            });
        }

        public static BlockedThread Start(Func<IoTraceReport?> body)
        {
            var blocked = new BlockedThread(body);
            blocked._thread.Start();
            return blocked;
        }

        public void WaitUntilInSyscall(int syscall)
        {
            var inCall = SpinWait.SpinUntil(() => !_thread.IsAlive || InSyscall(syscall), s_timeout);
            Assert.True(inCall && _thread.IsAlive, $"The thread did not block in syscall {syscall} (last seen: '{_lastSeen}'). {_failure}");
        }

        /// <summary>Sends SIGWINCH to the blocked thread and waits until its handler ran.</summary>
        public async Task InterruptAsync()
        {
            Assert.Equal(0, TgKill(Environment.ProcessId, Volatile.Read(ref _tid), Sigwinch));
            Assert.True(await _signalled.WaitAsync(s_timeout, TestContext.Current.CancellationToken), "the signal handler ran");
        }

        public IoTraceReport Join()
        {
            Assert.True(_thread.Join(s_timeout), "the blocked call returned");
            Assert.Null(_failure);
            return _report!;
        }

        public void Dispose()
        {
            _registration.Dispose();
            _signalled.Dispose();
        }

        private bool InSyscall(int syscall)
        {
            var tid = Volatile.Read(ref _tid);
            if (tid == 0)
            {
                return false;
            }

            // "47 0x3a 0x7f..." while blocked in recvmsg; state "S" (after the ") " closing the thread's name).
            var task = $"/proc/self/task/{tid}";
            _lastSeen = File.ReadAllText($"{task}/syscall").Trim();
            return _lastSeen.Split(' ')[0] == syscall.ToString(System.Globalization.CultureInfo.InvariantCulture)
                && File.ReadAllText($"{task}/stat").Split(") ")[1].StartsWith('S');
        }

        [DllImport("libc", EntryPoint = "gettid")]
        private static extern int GetTid();

        [DllImport("libc", EntryPoint = "tgkill")]
        private static extern int TgKill(int tgid, int tid, int signal);
    }
}
