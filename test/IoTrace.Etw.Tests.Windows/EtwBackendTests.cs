using System.Diagnostics;
using IoTrace.Etw.Tests.Windows.TestSupport;
using IoTrace.Tests.Shared;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Session;
using Xunit;

namespace IoTrace.Etw.Tests.Windows;

/// <summary>
/// The ETW backend for real, on Windows: a file read and a loopback TCP exchange give exact calls and bytes on their
/// lines, and no session outlives its run.
/// </summary>
[Collection(typeof(EtwTracing))]
public sealed class EtwBackendTests(EtwFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-etw-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Trace_ReadsOfAFileToItsEnd_ExactCallsAndBytesOnTheirLines()
    {
        fixture.Require();
        var path = Path.Combine(_directory, "data.bin");
        File.WriteAllBytes(path, new byte[10_000]);

        var report = IoTracer.Trace(Strategy.All, () => FileWork.ReadToEnd(path));

        // 4096 + 4096 + 1808 bytes, and the read at the end that returns none (STATUS_END_OF_FILE).
        Assert.Equal(
            [("FileIO/Create", FileWork.OpenLine, path, 1L, 0L), ("FileIO/Read", FileWork.ReadLine, path, 4L, 10_000L)],
            report.Aggregates.Where(a => a.Probe is "FileIO/Create" or "FileIO/Read").OrderBy(a => a.Probe, StringComparer.Ordinal)
                .Select(a => (a.Probe, a.Line ?? 0, a.Target, a.Calls, a.Bytes)));
        Assert.Equal(1, report.Aggregates.Where(a => a.Probe == "FileIO/Cleanup").Sum(a => a.Calls));
        Assert.True(report.IsComplete);
    }

    [Fact]
    public void Trace_LoopbackTcpExchange_ExactCallsAndBytesOnTheirLines()
    {
        fixture.Require();
        var peer = new LoopbackPeer(request: 100, answer: 50);

        var report = IoTracer.Trace(Strategy.All, () => SocketWork.Exchange(peer.Port, send: 100, receive: 50));
        peer.Dispose();

        var peerName = $"127.0.0.1:{peer.Port}";
        Assert.Equal(
            [
                ("AFD/Connect", SocketWork.ConnectLine, peerName, 1L, 0L),
                ("AFD/Receive", SocketWork.ReceiveLine, peerName, 1L, 50L),
                ("AFD/Send", SocketWork.SendLine, peerName, 1L, 100L),
            ],
            report.Aggregates.Where(a => a.Probe is "AFD/Connect" or "AFD/Send" or "AFD/Receive").OrderBy(a => a.Probe, StringComparer.Ordinal)
                .Select(a => (a.Probe, a.Line ?? 0, a.Target, a.Calls, a.Bytes)));
    }

    [Fact]
    public void TryEnable_SessionOfARunThatEndedLeftBehind_StopsItAndStopsItsOwnWhenDisabled()
    {
        fixture.Require();
        using var ended = Process.Start(new ProcessStartInfo("cmd.exe", "/c exit 0") { UseShellExecute = false })!;
        ended.WaitForExit();
        var leftBehind = $"IoTrace-{ended.Id}";
        using (var session = new TraceEventSession(leftBehind) { StopOnDispose = false })
        {
            session.EnableProvider(new Guid("e53c6823-7bb8-44bb-90dc-3f86090d48a6"), TraceEventLevel.Informational, 0x4);
        }

        Assert.Contains(leftBehind, TraceEventSession.GetActiveSessionNames());

        IoTracer.Disable();
        Assert.DoesNotContain(EtwFixture.SessionName, TraceEventSession.GetActiveSessionNames());

        fixture.Require();
        var active = TraceEventSession.GetActiveSessionNames();
        Assert.DoesNotContain(leftBehind, active);
        Assert.Contains(EtwFixture.SessionName, active);
    }
}
