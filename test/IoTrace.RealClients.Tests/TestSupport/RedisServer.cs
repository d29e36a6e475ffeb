namespace IoTrace.RealClients.Tests.TestSupport;

/// <summary>A Redis server, keeping nothing on disk.</summary>
public sealed class RedisServer() : LoopbackServer("/usr/bin/redis-server", "redis-server", "Ready to accept connections")
{
    public string Endpoint => $"127.0.0.1:{Port}";

    protected override IEnumerable<string> Arguments(int port) =>
        ["--port", $"{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", Path.GetTempPath()];
}
