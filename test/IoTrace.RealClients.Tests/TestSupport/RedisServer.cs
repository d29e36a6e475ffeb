using System.Diagnostics;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.RealClients.Tests.TestSupport;

/// <summary>A Redis server of Debian's package (.ci/run installs it), on a loopback port, keeping nothing on disk; started by the first test that needs it.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private const string Program = "/usr/bin/redis-server";

    private readonly SemaphoreSlim _starting = new(1, 1);
    private ServerProcess? _server;

    public int Port { get; private set; }

    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>Skips (fails under CI) where Redis is not installed; starts the server once.</summary>
    public async Task RequireAsync()
    {
        Requires.That(File.Exists(Program), "Redis is not installed (apt-get install redis-server)");
        await _starting.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (_server is null)
            {
                Port = ServerProcess.FreePort();
                var start = new ProcessStartInfo(Program);
                foreach (var argument in (string[])["--port", $"{Port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", Path.GetTempPath()])
                {
                    start.ArgumentList.Add(argument);
                }

                _server = await ServerProcess.StartAsync(start, "Ready to accept connections");
            }
        }
        finally
        {
            _starting.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _starting.Dispose();
    }
}
