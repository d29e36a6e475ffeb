using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Net;
using System.Net.Sockets;
using System.Text;
using IoTrace.Tests.Backends.InProcess;
using IoTrace.Attribution;
using IoTrace.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Tests.Attribution;

/// <summary>
/// The HttpClient listener is process-wide, and whether it stops depends on every trace in the process: these run alone.
/// </summary>
[Collection(typeof(ProcessWideBackend))]
public sealed class HttpClientCallSitesTests
{
    private static readonly long s_pastIdleDelay = (long)((ListeningWhileTraced.IdleDelay + TimeSpan.FromSeconds(1)).TotalSeconds * Stopwatch.Frequency);

    [Fact]
    public async Task StopIfIdle_NoTraceWithLineContextForTheIdleDelay_HttpClientStopsWritingEventsUntilTheNextOne()
    {
        Requires.Linux();
        await TraceHttpGetAsync();
        var source = EventSource.GetSources().Single(s => s.Name == "System.Net.Http");
        Assert.True(source.IsEnabled());

        var stopped = HttpClientCallSites.StopIfIdle(Stopwatch.GetTimestamp() + s_pastIdleDelay);

        // No listener left: HttpClient checks this before writing any of its events.
        Assert.True(stopped);
        Assert.False(source.IsEnabled());

        // The next trace with line context listens again from its start, so its HttpClient IO keeps its line.
        var (report, line, peer) = await TraceHttpGetAsync();
        Assert.True(source.IsEnabled());
        Assert.NotEmpty(report.For(peer));
        Assert.All(report.For(peer), a => Assert.Equal((Here.File(), line), (a.File!, a.Line!.Value)));
    }

    [Fact]
    public void StopIfIdle_WhileATraceWithLineContextRuns_KeepsListening()
    {
        Requires.Linux();
        using var scope = IoTracer.Start(Strategy.All);

        Assert.False(HttpClientCallSites.StopIfIdle(Stopwatch.GetTimestamp() + s_pastIdleDelay));
        Assert.True(HttpClientCallSites.IsListening);
    }

    [Fact]
    public void StopIfIdle_WithinTheIdleDelayOfTheLastTrace_KeepsListening()
    {
        Requires.Linux();
        IoTracer.Start(Strategy.Read).Stop();

        Assert.False(HttpClientCallSites.StopIfIdle(Stopwatch.GetTimestamp()));
        Assert.True(HttpClientCallSites.IsListening);
    }

    [Fact]
    public void StopIfIdle_SummaryTracesOnly_StopsListening()
    {
        Requires.Linux();
        IoTracer.Start(Strategy.Read).Stop();
        using var summary = IoTracer.Start(Strategy.Summary);

        // Summary keeps no lines, so it needs no HttpClient events.
        Assert.True(HttpClientCallSites.StopIfIdle(Stopwatch.GetTimestamp() + s_pastIdleDelay));
        Assert.False(HttpClientCallSites.IsListening);
    }

    /// <summary>An All trace of one GET to a loopback server: the report, the line of the GET and the server's address.</summary>
    private static async Task<(IoTraceReport Report, int Line, string Peer)> TraceHttpGetAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var peer = (IPEndPoint)listener.LocalEndpoint;
        var server = Task.Run(() => ServeOnceAsync(listener), TestContext.Current.CancellationToken);
        var line = 0;

        var report = await IoTracer.TraceAsync(Strategy.All, async () =>
        {
            using var http = new HttpClient();
            line = Here.Line(); Assert.Equal("hello", await http.GetStringAsync($"http://{peer}/", TestContext.Current.CancellationToken));
        });
        await server;
        return (report, line, peer.ToString());
    }

    private static async Task ServeOnceAsync(TcpListener listener)
    {
        using var socket = await listener.AcceptSocketAsync();
        var request = new StringBuilder();
        var buffer = new byte[4096];
        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            request.Append(Encoding.ASCII.GetString(buffer, 0, await socket.ReceiveAsync(buffer)));
        }

        await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"));
        socket.Shutdown(SocketShutdown.Send);
    }
}
