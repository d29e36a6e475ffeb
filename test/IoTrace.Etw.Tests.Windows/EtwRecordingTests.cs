using System.Diagnostics;
using IoTrace.Etw.Tests.Windows.TestSupport;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Session;
using Xunit;

namespace IoTrace.Etw.Tests.Windows;

/// <summary>
/// Records, beside the backend's own session, what the kernel delivered during a file read and a loopback exchange, as
/// an <c>.etlx</c> (which TraceEvent opens on any system) with the reports the backend gave: fixtures for the
/// translator's tests on Linux. Runs where <c>IOTRACE_ETW_RECORDING</c> names a folder (the Windows workflow).
/// </summary>
[Collection(typeof(EtwTracing))]
public sealed class EtwRecordingTests(EtwFixture fixture)
{
    [Fact]
    public void Record_FileReadAndLoopbackExchange_WritesTheEtlxAndTheReports()
    {
        fixture.Require();
        var directory = Environment.GetEnvironmentVariable("IOTRACE_ETW_RECORDING");
        Assert.SkipWhen(string.IsNullOrEmpty(directory), "IOTRACE_ETW_RECORDING names no folder to record into (the Windows workflow sets it)");
        Directory.CreateDirectory(directory);
        var etl = Path.Combine(directory, "file-and-socket.etl");
        var data = Path.Combine(directory, "data.bin");
        File.WriteAllBytes(data, new byte[10_000]);
        using var peer = new LoopbackPeer(request: 100, answer: 50);
        using var reports = new StringWriter();
        reports.WriteLine($"process {Environment.ProcessId}, QPC frequency {Stopwatch.Frequency}");
        using (var recording = new TraceEventSession("IoTrace-Recording", etl))
        {
            recording.EnableKernelProvider(
                KernelTraceEventParser.Keywords.FileIOInit | KernelTraceEventParser.Keywords.FileIO,
                KernelTraceEventParser.Keywords.FileIOInit);
            recording.EnableProvider(new Guid("e53c6823-7bb8-44bb-90dc-3f86090d48a6"), TraceEventLevel.Informational, 0x4);
            IoTracer.Trace(Strategy.All, reports, "default", () => FileWork.ReadToEnd(data));
            IoTracer.Trace(Strategy.All, reports, "default", () => SocketWork.Exchange(peer.Port, send: 100, receive: 50));
        }

        var etlx = TraceLog.CreateFromEventTraceLogFile(etl, Path.ChangeExtension(etl, ".etlx"));
        File.Delete(etl);
        File.WriteAllText(Path.Combine(directory, "file-and-socket.reports.txt"), reports.ToString());
        Assert.True(new FileInfo(etlx).Length > 0);
    }
}
