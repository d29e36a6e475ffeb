namespace IoTrace.RealClients.Tests.TestSupport;

/// <summary>A NATS server, without monitoring or persistence.</summary>
public sealed class NatsServer() : LoopbackServer("/usr/sbin/nats-server", "nats-server", "Server is ready")
{
    public string Url => $"nats://127.0.0.1:{Port}";

    protected override IEnumerable<string> Arguments(int port) => ["--addr", "127.0.0.1", "--port", $"{port}"];
}
