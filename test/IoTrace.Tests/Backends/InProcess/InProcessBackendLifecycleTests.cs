using IoTrace.Backends.InProcess;
using IoTrace.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;
using IoTrace.Tracing;

namespace IoTrace.Tests.Backends.InProcess;

/// <summary>Switching the backend off touches the whole process, so these run alone.</summary>
[Collection(typeof(ProcessWideBackend))]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class InProcessBackendLifecycleTests : IDisposable
{
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Disable_AfterTracing_PutsEveryGotSlotBackToItsOriginalTarget()
    {
        Requires.Linux();
        IoTracer.Trace(Strategy.Summary, () => File.ReadAllBytes(_files.Create(10)));
        var backend = Assert.IsType<InProcessBackend>(IoTracer.Backend);
        var patched = backend.Slots().Where(s => s.Patched).ToList();
        Assert.Contains(patched, s => s.Library.EndsWith("/libSystem.Native.so", StringComparison.Ordinal) && s.Symbol == "pread64");
        Assert.Contains(patched, s => s.Library.EndsWith("/libSystem.Native.so", StringComparison.Ordinal) && s.Symbol == "syscall(copy_file_range)");
        Assert.All(patched, s => Assert.NotEqual(s.Original, Read(s.Got)));

        IoTracer.Disable();

        Assert.All(patched, s => Assert.Equal(s.Original, Read(s.Got)));
        Assert.DoesNotContain(backend.Slots(), s => s.Patched);
    }

    [Fact]
    public void Start_AfterDisable_InstallsAgainAndTracesExactly()
    {
        Requires.Linux();
        IoTracer.Disable();
        var path = _files.Create(777);

        var report = IoTracer.Trace(Strategy.Read, () => File.ReadAllBytes(path));

        Assert.Equal(777, report.Aggregates.Bytes("pread64"));
        Assert.True(report.IsComplete);
    }

    [Fact]
    public void Disable_WhileATraceRuns_TheTraceIsMarkedIncompleteAndLaterTracesCountAgain()
    {
        Requires.Linux();
        var before = _files.Create(100);
        var after = _files.Create(200);
        var scope = IoTracer.Start(Strategy.Read);
        File.ReadAllBytes(before);

        IoTracer.Disable();
        File.ReadAllBytes(after);
        var report = scope.Stop();
        var next = IoTracer.Trace(Strategy.Read, () => File.ReadAllBytes(after));

        Assert.Equal(100, report.Aggregates.BytesRead());
        Assert.False(report.IsComplete);
        Assert.Equal(200, next.Aggregates.BytesRead());
        Assert.True(next.IsComplete);
    }

    [Fact]
    public void Start_InstallFails_TracedCodeRunsUnchangedAndReportsAreEmptyAndIncomplete()
    {
        Requires.Linux();
        var path = _files.Create(321);
        using var diagnostics = new RecordingDiagnostics();
        IoTracer.Disable();
        InProcessBackend.InstallFaultForTests = "simulated: no slot could be rebound";
        try
        {
            byte[]? read = null;
            var first = IoTracer.Trace(Strategy.All, () => read = File.ReadAllBytes(path));
            var second = IoTracer.Trace(Strategy.All, () => File.ReadAllBytes(path));

            Assert.Equal(321, read!.Length);
            Assert.Empty(first.Aggregates);
            Assert.False(first.IsComplete);
            Assert.False(second.IsComplete);
            Assert.Equal(["StartFailed: inprocess: simulated: no slot could be rebound"], diagnostics.Reports);
        }
        finally
        {
            InProcessBackend.InstallFaultForTests = null;
            IoTracer.Disable();
        }

        Assert.Equal(321, IoTracer.Trace(Strategy.Read, () => File.ReadAllBytes(path)).Aggregates.BytesRead());
    }

    [Fact]
    public void Stop_TraceThatWaitedOnASocket_ReleasesItsFdOwnerSlot()
    {
        Requires.Linux();
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        client.Connect(listener.LocalEndpoint);
        using var server = listener.AcceptSocket();
        var before = IoTrace.Tracing.FdOwners.OccupiedSlots;

        var report = IoTracer.Trace(Strategy.Read, () =>
        {
            client.Blocking = false;
            var error = Assert.Throws<System.Net.Sockets.SocketException>(() => client.Receive(new byte[16]));
            Assert.Equal(System.Net.Sockets.SocketError.WouldBlock, error.SocketErrorCode);
            Assert.Equal(before + 1, IoTrace.Tracing.FdOwners.OccupiedSlots);
        });

        Assert.Equal(1, report.Aggregates.Calls("recvfrom") + report.Aggregates.Calls("recvmsg"));
        Assert.Equal(before, IoTrace.Tracing.FdOwners.OccupiedSlots);
    }

    [Fact]
    public void Trace_PooledConnectionInTwoTracesWhileAnotherRuns_AsksItsPeerOnce()
    {
        Requires.Linux();
        using var connection = new Connection();
        var keeper = StartInAnotherFlow();
        var backend = Assert.IsType<InProcessBackend>(IoTracer.Backend);
        var before = backend.Peers.Remembered;

        var first = IoTracer.Trace(Strategy.Write, () => connection.Client.Send([1]));
        var second = IoTracer.Trace(Strategy.Write, () => connection.Client.Send([2, 3]));
        keeper.Stop();

        Assert.Equal(connection.Peer, Assert.Single(first.Aggregates, a => a.Bytes == 1).Target);
        Assert.Equal(connection.Peer, Assert.Single(second.Aggregates, a => a.Bytes == 2).Target);
        Assert.Equal(before + 1, backend.Peers.Remembered);
    }

    [Fact]
    public void Stop_OfTheLastTrace_ForgetsThePeers()
    {
        Requires.Linux();
        using var connection = new Connection();
        var backend = Assert.IsType<InProcessBackend>(IoTracer.Backend);
        var fd = (int)connection.Client.Handle;
        var keeper = StartInAnotherFlow();
        IoTracer.Trace(Strategy.Write, () => connection.Client.Send([1]));
        Assert.Equal(connection.Peer, backend.Peers.Find(fd, FdOwners.Closes(fd)));

        // No trace runs: the hooks would not see the socket's close, nor a new socket opened on its number.
        keeper.Stop();

        Assert.Equal(0, backend.ActiveTraces);
        Assert.Null(backend.Peers.Find(fd, FdOwners.Closes(fd)));
    }

    [Fact]
    public void Close_WhileATraceRuns_EndsThePeersLife()
    {
        Requires.Linux();
        var connection = new Connection();
        var backend = Assert.IsType<InProcessBackend>(IoTracer.Backend);
        var fd = (int)connection.Client.Handle;
        var keeper = StartInAnotherFlow();
        IoTracer.Trace(Strategy.Write, () => connection.Client.Send([1]));
        var life = FdOwners.Closes(fd);
        Assert.Equal(connection.Peer, backend.Peers.Find(fd, life));

        connection.Dispose();

        Assert.Equal(life + 1, FdOwners.Closes(fd));
        Assert.Null(backend.Peers.Find(fd, FdOwners.Closes(fd)));
        keeper.Stop();
    }

    /// <summary>A trace in a flow of its own, as another request's: the hooks stay active between the test's traces.</summary>
    private static IoTraceScope StartInAnotherFlow()
    {
        using (ExecutionContext.SuppressFlow())
        {
            return Task.Run(() => IoTracer.Start(Strategy.Summary)).GetAwaiter().GetResult();
        }
    }

    private static unsafe nint Read(nint got) => *(nint*)got;

    /// <summary>A connected loopback TCP socket, opened before the traces that use it, as a pooled connection is.</summary>
    private sealed class Connection : IDisposable
    {
        private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);
        private readonly System.Net.Sockets.Socket _server;

        public Connection()
        {
            _listener.Start();
            Client = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            Client.Connect(_listener.LocalEndpoint);
            _server = _listener.AcceptSocket();
            Peer = _listener.LocalEndpoint.ToString()!;
        }

        public System.Net.Sockets.Socket Client { get; }

        public string Peer { get; }

        public void Dispose()
        {
            Client.Dispose();
            _server.Dispose();
            _listener.Dispose();
        }
    }
}

[CollectionDefinition(DisableParallelization = true)]
public sealed class ProcessWideBackend;
