using System.Net;
using System.Net.Sockets;
using System.Text;

namespace IoTrace.AspNetCore.Tests.TestInfrastructure;

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 that counts the exact bytes it receives and sends, so a report's
/// sendto and recvfrom bytes can be checked against the other end of the connection.
/// </summary>
internal sealed class LoopbackHttpServer : IAsyncDisposable
{
    private static readonly byte[] s_headerEnd = "\r\n\r\n"u8.ToArray();

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _served = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _connectionsServed = new(0);
    private readonly Task _acceptLoop;
    private long _received;
    private long _sent;

    public LoopbackHttpServer(string body)
    {
        var content = Encoding.UTF8.GetBytes(body);
        Response = [.. Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {content.Length}\r\nConnection: close\r\n\r\n"), .. content];
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>The peer as the report's <c>Target</c> names it.</summary>
    public string Peer => $"127.0.0.1:{Port}";

    public byte[] Response { get; }

    public long BytesReceived => Interlocked.Read(ref _received);

    public long BytesSent => Interlocked.Read(ref _sent);

    /// <summary>Completes when the first connection has been served and closed.</summary>
    public Task Served => _served.Task;

    /// <summary>Completes when <paramref name="connections"/> more connections have been served and closed (their bytes counted).</summary>
    public async Task ServedAsync(int connections)
    {
        for (var i = 0; i < connections; i++)
        {
            await _connectionsServed.WaitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
        _connectionsServed.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptSocketAsync(_stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await ServeAsync(connection);
        }
    }

    private async Task ServeAsync(Socket connection)
    {
        using (connection)
        {
            var request = new List<byte>();
            var buffer = new byte[4096];
            while (request.Count < s_headerEnd.Length || !request[^s_headerEnd.Length..].SequenceEqual(s_headerEnd))
            {
                var read = await connection.ReceiveAsync(buffer, _stopping.Token);
                if (read == 0)
                {
                    break;
                }

                request.AddRange(buffer.AsSpan(0, read));
            }

            Interlocked.Add(ref _received, request.Count);
            var sent = 0;
            while (sent < Response.Length)
            {
                sent += await connection.SendAsync(Response.AsMemory(sent), _stopping.Token);
            }

            Interlocked.Add(ref _sent, sent);
            connection.Shutdown(SocketShutdown.Both);
        }

        _served.TrySetResult();
        _connectionsServed.Release();
    }
}
