using System.Diagnostics;
using IoTrace.Etw.Tests.TestSupport;
using IoTrace.Etw.Translation;
using IoTrace.Probes;
using IoTrace.Tracing;
using Xunit;

namespace IoTrace.Etw.Tests.Translation;

/// <summary>
/// The translator against event sequences as a real-time session delivers them: starts and ends paired by IRP in any
/// order, failures, FileObjects reused, threads and their traces, events that come late, stacks in two halves.
/// </summary>
public sealed class EtwTranslatorTests
{
    private const string DataFile = "C:\\data\\orders.json";

    private readonly TranslatorHarness _etw = new();

    [Fact]
    public void OnDelivered_CreateReadCleanupClose_EachCallWithItsBytesTimeAndLine()
    {
        var trace = _etw.StartTrace(thread: 1);
        var created = _etw.Start(1, "FileIO/Create", fileObject: 0xA0, irp: 1, DataFile, line: 10);
        var createEnded = _etw.End(1);
        var read = _etw.Start(1, "FileIO/Read", 0xA0, irp: 2, line: 11);
        var readEnded = _etw.End(2, bytes: 4096);
        _etw.Start(1, "FileIO/Cleanup", 0xA0, irp: 3, line: 12);
        _etw.End(3);
        _etw.Start(1, "FileIO/Close", 0xA0, irp: 4, line: 12);
        _etw.End(4);
        _etw.Stop(trace);

        _etw.Deliver();

        Assert.Equal([trace.Session.Id], _etw.Completed);
        var report = TranslatorHarness.Report(trace);
        Assert.Equal(
            [
                ("FileIO/Cleanup", 12, 1, DataFile, 1L, 0L),
                ("FileIO/Close", 12, 1, DataFile, 1L, 0L),
                ("FileIO/Create", 10, 1, DataFile, 1L, 0L),
                ("FileIO/Read", 11, 1, DataFile, 1L, 4096L),
            ],
            report.Aggregates.OrderBy(a => a.Probe, StringComparer.Ordinal).Select(a => (a.Probe, a.Line ?? 0, a.Fd ?? -1, a.Target, a.Calls, a.Bytes)));
        Assert.Equal(Stopwatch.GetElapsedTime(read, readEnded), report.Aggregates.Single(a => a.Probe == "FileIO/Read").Time);
        Assert.Equal(Stopwatch.GetElapsedTime(created, createEnded), report.Aggregates.Single(a => a.Probe == "FileIO/Create").Time);
    }

    [Fact]
    public void OnEnded_BeforeItsStart_PairsWhenTheStartIsRead()
    {
        // The end's CPU delivered its buffer first: the end is read before the start it follows.
        var trace = _etw.StartTrace(thread: 1);
        var start = _etw.Now;
        _etw.Time.Advance(TimeSpan.FromTicks(5));
        _etw.End(7, bytes: 100);
        _etw.Translator.OnStarted(new OperationStarted(start, 1, ProbeCatalog.IndexOf("FileIO/Read"), 0xA0, RequestKey.Irp(7)));
        _etw.Stop(trace);

        _etw.Deliver();

        Assert.Equal([("FileIO/Read", 1L, 100L)], TranslatorHarness.Report(trace).Aggregates.Select(a => (a.Probe, a.Calls, a.Bytes)));
    }

    [Fact]
    public void OnEnded_EndsInAnotherOrderThanTheStarts_EachCallGetsItsOwnEnd()
    {
        var trace = _etw.StartTrace(thread: 1);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 1, line: 20);
        _etw.Start(1, "FileIO/Read", 0xB0, irp: 2, line: 21);
        _etw.End(2, bytes: 200);
        _etw.End(1, bytes: 100);
        _etw.Stop(trace);

        _etw.Deliver();

        Assert.Equal([(20, 100L), (21, 200L)], TranslatorHarness.Report(trace).Aggregates.OrderBy(a => a.Line).Select(a => (a.Line ?? 0, a.Bytes)));
    }

    [Fact]
    public void OnEnded_AnEndOlderThanTheStartOnItsIrp_IsNotThatStartsEnd()
    {
        // IRPs are reused: a late end of the IRP's previous request must not end the request now in flight.
        var trace = _etw.StartTrace(thread: 1);
        var previousEnd = _etw.Now - 5;
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 1, line: 20);
        _etw.Translator.OnEnded(new OperationEnded(previousEnd, RequestKey.Irp(1), 0, 999));
        _etw.End(1, bytes: 10);
        _etw.Stop(trace);

        _etw.Deliver();

        Assert.Equal([("FileIO/Read", 1L, 10L)], TranslatorHarness.Report(trace).Aggregates.Select(a => (a.Probe, a.Calls, a.Bytes)));
    }

    [Fact]
    public void OnDelivered_FailedCreate_ChargesThePathItTriedWithoutAnFd()
    {
        var trace = _etw.StartTrace(thread: 1);
        _etw.Start(1, "FileIO/Create", 0xA0, irp: 1, "C:\\data\\missing.json", line: 30);
        _etw.End(1, status: unchecked((int)0xC0000034)); // STATUS_OBJECT_NAME_NOT_FOUND
        _etw.Stop(trace);

        _etw.Deliver();

        var created = Assert.Single(TranslatorHarness.Report(trace).Aggregates);
        Assert.Equal(("FileIO/Create", null, "C:\\data\\missing.json", 30, 1L), (created.Probe, created.Fd, created.Target, created.Line ?? 0, created.Calls));
    }

    [Fact]
    public void OnStarted_FileObjectReusedAfterClose_ItsCallsReportTheNewFile()
    {
        var trace = _etw.StartTrace(thread: 1);
        _etw.Start(1, "FileIO/Create", 0xA0, irp: 1, "C:\\data\\a.json", line: 40);
        _etw.End(1);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 2, line: 41);
        _etw.End(2, bytes: 1);
        _etw.Start(1, "FileIO/Close", 0xA0, irp: 3, line: 42);
        _etw.End(3);
        _etw.Start(1, "FileIO/Create", 0xA0, irp: 4, "C:\\data\\b.json", line: 40);
        _etw.End(4);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 5, line: 41);
        _etw.End(5, bytes: 2);
        _etw.Stop(trace);

        _etw.Deliver();

        Assert.Equal(
            [("C:\\data\\a.json", 1L), ("C:\\data\\b.json", 2L)],
            TranslatorHarness.Report(trace).Aggregates.Where(a => a.Probe == "FileIO/Read").OrderBy(a => a.Target, StringComparer.Ordinal).Select(a => (a.Target, a.Bytes)));
    }

    [Fact]
    public void OnStarted_FileOpenedBeforeTheTrace_ItsFdDescribedByThePathItsCreateNamed()
    {
        // Opened outside any trace (at startup): its create is followed for the name, which the backend's DescribeFd
        // gives the trace for a life it did not see open.
        _etw.Start(3, "FileIO/Create", 0xA0, irp: 1, DataFile);
        _etw.End(1);
        var trace = _etw.StartTrace(thread: 1);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 2, line: 50);
        _etw.End(2, bytes: 64);
        _etw.Stop(trace);

        _etw.Deliver();

        var read = Assert.Single(TranslatorHarness.Report(trace).Aggregates);
        Assert.Equal(("FileIO/Read", 64L), (read.Probe, read.Bytes));
        Assert.Equal(DataFile, _etw.Translator.Objects.Describe(read.Fd!.Value));
    }

    [Fact]
    public void OnStarted_TwoThreadsInTwoTraces_EachCallGoesToItsThreadsTrace()
    {
        var first = _etw.StartTrace(thread: 1);
        var second = _etw.StartTrace(thread: 2);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 1, line: 60);
        _etw.Start(2, "FileIO/Read", 0xB0, irp: 2, line: 61);
        _etw.Start(3, "FileIO/Read", 0xC0, irp: 3, line: 62); // a thread in no trace
        _etw.End(2, bytes: 22);
        _etw.End(1, bytes: 11);
        _etw.End(3, bytes: 33);
        _etw.Stop(first);
        _etw.Stop(second);

        _etw.Deliver();

        Assert.Equal([(60, 11L)], TranslatorHarness.Report(first).Aggregates.Select(a => (a.Line ?? 0, a.Bytes)));
        Assert.Equal([(61, 22L)], TranslatorHarness.Report(second).Aggregates.Select(a => (a.Line ?? 0, a.Bytes)));
    }

    [Fact]
    public void OnStarted_ThreadSwitchesTracesMidway_CallsSplitAtTheSwitch()
    {
        // An await resumed another request's flow on the same pool thread.
        var first = _etw.StartTrace(thread: 1);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 1, line: 70);
        _etw.End(1, bytes: 1);
        var other = _etw.StartTrace(thread: 1);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 2, line: 71);
        _etw.End(2, bytes: 2);
        _etw.OnThread(1, first.Session);
        _etw.Start(1, "FileIO/Write", 0xA0, irp: 3, line: 72);
        _etw.End(3, bytes: 3);
        _etw.Stop(first);
        _etw.Stop(other);

        _etw.Deliver();

        Assert.Equal([(70, 1L), (72, 3L)], TranslatorHarness.Report(first).Aggregates.OrderBy(a => a.Line).Select(a => (a.Line ?? 0, a.Bytes)));
        Assert.Equal([(71, 2L)], TranslatorHarness.Report(other).Aggregates.Select(a => (a.Line ?? 0, a.Bytes)));
    }

    [Fact]
    public void OnDelivered_TraceStoppedAfterTheFlush_CompletesAtTheNextOne()
    {
        var trace = _etw.StartTrace(thread: 1);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 1, line: 80);
        _etw.End(1, bytes: 8);
        _etw.Deliver();
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 2, line: 81);
        _etw.End(2, bytes: 9);
        _etw.Stop(trace);

        // The first delivery charged the first read; the second waits with the trace.
        Assert.Empty(_etw.Completed);
        Assert.Equal([9L], trace.Pending.Select(c => c.End?.Bytes ?? -1));

        _etw.Deliver();

        Assert.Equal([trace.Session.Id], _etw.Completed);
        Assert.Equal([(80, 8L), (81, 9L)], TranslatorHarness.Report(trace).Aggregates.OrderBy(a => a.Line).Select(a => (a.Line ?? 0, a.Bytes)));
    }

    [Fact]
    public void OnDelivered_EventsOfAMarkerOfAnEarlierFlush_ChargeOnlyWhatWasMadeBeforeIt()
    {
        // A call made after the flush was noted may still be in a CPU's buffer: it waits for the next marker.
        var trace = _etw.StartTrace(thread: 1);
        _etw.Markers.BeforeFlush();
        _etw.Tick();
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 1, line: 90);
        _etw.End(1, bytes: 5);
        _etw.Translator.OnStarted(new OperationStarted(_etw.Now, TranslatorHarness.MarkerThread, ProbeCatalog.IndexOf("FileIO/Create"), 0xBEEF, RequestKey.Irp(0xBEEF), "marker"));
        _etw.Tick();

        var pending = Assert.Single(trace.Pending);
        Assert.Equal(5, pending.End?.Bytes);
    }

    [Fact]
    public void OnDelivered_CallInFlightAtTheStop_ChargedWithoutBytesOrTime()
    {
        var trace = _etw.StartTrace(thread: 1);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 1, line: 100);
        _etw.Stop(trace);

        _etw.Deliver();

        var read = Assert.Single(TranslatorHarness.Report(trace).Aggregates);
        Assert.Equal((1L, 0L, TimeSpan.Zero), (read.Calls, read.Bytes, read.Time));
    }

    [Fact]
    public void OnDelivered_CallStartedAfterTheStop_LeftOut()
    {
        // The thread still publishes the trace until the scope restores what ran before it.
        var trace = _etw.StartTrace(thread: 1);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 1, line: 100);
        _etw.End(1, bytes: 1);
        _etw.Stop(trace);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 2, line: 101);
        _etw.End(2, bytes: 2);

        _etw.Deliver();

        Assert.Equal([(100, 1L)], TranslatorHarness.Report(trace).Aggregates.Select(a => (a.Line ?? 0, a.Bytes)));
    }

    [Fact]
    public void OnStack_KernelHalfThenUserHalf_TakesTheUsersLine()
    {
        var trace = _etw.StartTrace(thread: 1);
        var at = _etw.Start(1, "FileIO/Read", 0xA0, irp: 1);
        _etw.Translator.OnStack(new StackWalked(at, 1, [0xFFFF_F800_0000_1000, 0xFFFF_F800_0000_2000]));
        _etw.Translator.OnStack(new StackWalked(at, 1, [110, 0x7FF0_0000_0000]));
        _etw.End(1, bytes: 3);
        _etw.Stop(trace);

        _etw.Deliver();

        Assert.Equal(110, Assert.Single(TranslatorHarness.Report(trace).Aggregates).Line);
    }

    [Fact]
    public void OnStack_NoStackForTheCall_ChargedWithoutALine()
    {
        var trace = _etw.StartTrace(thread: 1);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 1);
        _etw.End(1, bytes: 3);
        _etw.Stop(trace);

        _etw.Deliver();

        var read = Assert.Single(TranslatorHarness.Report(trace).Aggregates);
        Assert.Equal((null, 3L), (read.Line, read.Bytes));
    }

    [Fact]
    public void OnDelivered_SummaryStrategy_CountsPerProbeWithoutFdOrTarget()
    {
        var trace = _etw.StartTrace(thread: 1, Strategy.Summary);
        _etw.Start(1, "FileIO/Create", 0xA0, irp: 1, DataFile, line: 10);
        _etw.End(1);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 2, line: 11);
        _etw.End(2, bytes: 100);
        _etw.Start(1, "FileIO/Read", 0xA0, irp: 3, line: 11);
        _etw.End(3, bytes: 50);
        _etw.Stop(trace);

        _etw.Deliver();

        Assert.Equal(
            [("FileIO/Create", null, null, 1L, 0L), ("FileIO/Read", null, null, 2L, 150L)],
            TranslatorHarness.Report(trace).Aggregates.OrderBy(a => a.Probe, StringComparer.Ordinal).Select(a => (a.Probe, a.Fd, a.Target, a.Calls, a.Bytes)));
    }

    [Fact]
    public void OnStarted_SocketConnectSendReceive_PairedByEndpointWithThePeer()
    {
        const ulong endpoint = 0xE0;
        var trace = _etw.StartTrace(thread: 1);
        Socket("AFD/Create", endpoint, line: 120);
        Socket("AFD/Connect", endpoint, "127.0.0.1:5432", line: 121);
        Socket("AFD/Send", endpoint, line: 122, bytes: 57);
        Socket("AFD/Receive", endpoint, line: 123, bytes: 321);
        _etw.Stop(trace);

        _etw.Deliver();

        Assert.Equal(
            [("AFD/Connect", "127.0.0.1:5432", 0L), ("AFD/Create", "127.0.0.1:5432", 0L), ("AFD/Receive", "127.0.0.1:5432", 321L), ("AFD/Send", "127.0.0.1:5432", 57L)],
            TranslatorHarness.Report(trace).Aggregates.OrderBy(a => a.Probe, StringComparer.Ordinal).Select(a => (a.Probe, a.Target, a.Bytes)));
        Assert.Equal("127.0.0.1:5432", _etw.Translator.Objects.Describe(TranslatorHarness.Report(trace).Aggregates[0].Fd ?? -1));
    }

    [Fact]
    public void SharedSocketsTo_SocketConnectedOutsideTraces_FoundByItsPeerOncePerLife()
    {
        var connection = SharedSocket(0xE1, "127.0.0.1:6379");

        Assert.Same(connection, Assert.Single(_etw.Translator.SharedSocketsTo(Peers("127.0.0.1:6379"))));
        Assert.Equal(("127.0.0.1:6379", false), (connection.Peer, connection.IsClosed));
        Assert.Empty(_etw.Translator.SharedSocketsTo(Peers("127.0.0.1:5432")));

        Socket("AFD/Close", 0xE1, thread: 7);

        Assert.True(connection.IsClosed);
        Assert.Empty(_etw.Translator.SharedSocketsTo(Peers("127.0.0.1:6379")));
    }

    [Fact]
    public void Follow_ReadsAndWritesOutsideTraces_CountedByWhenTheyStartedNotWhenTheyWereRead()
    {
        const ulong endpoint = 0xE1;
        var connection = SharedSocket(endpoint, "127.0.0.1:6379");
        var (send, receive) = (ProbeCatalog.IndexOf("AFD/Send"), ProbeCatalog.IndexOf("AFD/Receive"));
        var startedBefore = _etw.Tick();

        _etw.Translator.Follow(connection, follow: true, _etw.Tick());
        _etw.Translator.OnStarted(new OperationStarted(startedBefore, 7, send, endpoint, RequestKey.Socket(endpoint, send), null));
        _etw.Translator.OnEnded(new OperationEnded(_etw.Tick(), RequestKey.Socket(endpoint, send), 0, 10));
        _etw.Tick();
        Socket("AFD/Send", endpoint, thread: 7, bytes: 31);
        Socket("AFD/Receive", endpoint, thread: 8, bytes: 1024);
        var startedWhileFollowed = _etw.Tick();
        _etw.Translator.Follow(connection, follow: false, _etw.Tick());
        _etw.Translator.OnStarted(new OperationStarted(startedWhileFollowed, 8, receive, endpoint, RequestKey.Socket(endpoint, receive), null));
        _etw.Translator.OnEnded(new OperationEnded(_etw.Tick(), RequestKey.Socket(endpoint, receive), 0, 7));
        Socket("AFD/Send", endpoint, thread: 7, bytes: 99);

        Assert.Equal(
            [("AFD/Receive", 2L, 1031L), ("AFD/Send", 1L, 31L)],
            connection.Read().Select(r => (ProbeCatalog.Name(r.Probe), r.Calls, r.Bytes)).OrderBy(r => r.Item1, StringComparer.Ordinal));
    }

    [Fact]
    public void OnDelivered_TraceUsedASharedConnection_ReportsItsCallsOutsideTheTraceAsSharedRows()
    {
        const ulong endpoint = 0xE1;
        var connection = SharedSocket(endpoint, "127.0.0.1:6379");
        var trace = _etw.StartTrace(thread: 1);

        trace.Session.UseSharedConnection(connection);
        Socket("AFD/Send", endpoint, thread: 7, bytes: 31);
        Socket("AFD/Receive", endpoint, thread: 8, bytes: 1024);
        _etw.OnThread(1, trace.Session);
        _etw.Stop(trace);
        _etw.Deliver();
        var report = TranslatorHarness.Report(trace);

        Assert.Empty(report.Aggregates);
        Assert.Equal(
            [("AFD/Receive", "127.0.0.1:6379", 1L, 1024L), ("AFD/Send", "127.0.0.1:6379", 1L, 31L)],
            report.SharedAggregates.Select(a => (a.Probe, a.Target, a.Calls, a.Bytes)).OrderBy(a => a.Probe, StringComparer.Ordinal));
        Socket("AFD/Send", endpoint, thread: 7, bytes: 5);
        Assert.Equal(1, connection.Read().Single(r => ProbeCatalog.Name(r.Probe) == "AFD/Send").Calls);
    }

    [Fact]
    public async Task WaitDelivered_AnotherThreadWaitsForTheEventsBeforeATime_ReleasedByTheMarkerPastIt()
    {
        var at = _etw.Tick();
        Assert.False(_etw.Translator.WaitDelivered(at, TimeSpan.Zero));
        var waiting = Task.Run(() => _etw.Translator.WaitDelivered(at, TimeSpan.FromMinutes(1)), TestContext.Current.CancellationToken);

        _etw.Deliver();

        Assert.True(await waiting.WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken));
        Assert.False(_etw.Translator.WaitDelivered(_etw.Tick(), TimeSpan.Zero));
    }

    private static HashSet<string> Peers(string peer) => new(StringComparer.Ordinal) { peer };

    /// <summary>A socket created and connected to <paramref name="peer"/> outside traces, found as a shared connection.</summary>
    private SharedConnection SharedSocket(ulong endpoint, string peer)
    {
        Socket("AFD/Create", endpoint, thread: 7);
        Socket("AFD/Connect", endpoint, peer, thread: 7);
        return Assert.Single(_etw.Translator.SharedSocketsTo(Peers(peer)));
    }

    private void Socket(string probe, ulong endpoint, string? peer = null, ulong line = 0, long bytes = 0, int thread = 1)
    {
        var index = ProbeCatalog.IndexOf(probe);
        var at = _etw.Now;
        _etw.Translator.OnStarted(new OperationStarted(at, thread, index, endpoint, RequestKey.Socket(endpoint, index), peer));
        _etw.Translator.OnStack(new StackWalked(at, thread, [line]));
        _etw.Tick();
        _etw.Translator.OnEnded(new OperationEnded(_etw.Now, RequestKey.Socket(endpoint, index), 0, bytes));
        _etw.Tick();
    }
}
