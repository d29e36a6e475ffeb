using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;

namespace IoTrace.Benchmarks;

/// <summary>
/// A trace that keeps context (Write) and sends one byte on a connection opened before it, as a request does on a
/// pooled connection, while another flow's trace runs (as under load): what naming the socket costs the trace.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet disposes in [GlobalCleanup].")]
public class PooledSocketTrace
{
    private readonly byte[] _payload = [1];
    private TcpListener? _listener;
    private Socket? _client;
    private Socket? _server;
    private IoTraceScope? _other;

    [GlobalSetup]
    public void Setup()
    {
        IoTracer.TryEnable("inprocess", out _);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _client = new Socket(SocketType.Stream, ProtocolType.Tcp);
        _client.Connect(_listener.LocalEndpoint);
        _server = _listener.AcceptSocket();
        using (ExecutionContext.SuppressFlow())
        {
            _other = Task.Run(() => IoTracer.Start(Strategy.Summary)).GetAwaiter().GetResult();
        }
    }

    [Benchmark]
    public long WriteTrace()
    {
        var scope = IoTracer.Start(Strategy.Write);
        _client!.Send(_payload);
        var report = scope.Stop();
        Drain();
        return report.TotalBytes;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _other?.Stop();
        _client?.Dispose();
        _server?.Dispose();
        _listener?.Dispose();
    }

    // Outside the trace: the receiving end keeps up without filling the socket's buffers.
    private void Drain()
    {
        if (_server!.Available >= 4096)
        {
            _server.Receive(new byte[_server.Available]);
        }
    }
}
