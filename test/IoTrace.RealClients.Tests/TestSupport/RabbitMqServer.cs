using System.Diagnostics;

namespace IoTrace.RealClients.Tests.TestSupport;

/// <summary>
/// A RabbitMQ node of Debian's package (run as the user the tests run as, not through the package's wrapper, which
/// switches to the rabbitmq user), with its data, logs and port mapper (epmd) of its own, removed when it stops.
/// </summary>
public sealed class RabbitMqServer() : LoopbackServer("/usr/lib/rabbitmq/bin/rabbitmq-server", "rabbitmq-server", "Server startup complete")
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"iotrace-rabbitmq-{Guid.NewGuid():N}");
    private int _epmdPort;

    public string Url => $"amqp://guest:guest@127.0.0.1:{Port}/";

    // The Erlang VM takes SIGINT for its break menu; SIGTERM stops the node.
    protected override int StopSignal => ServerProcess.SIGTERM;

    protected override IEnumerable<string> Arguments(int port) => [];

    protected override void Prepare(ProcessStartInfo start, int port)
    {
        Directory.CreateDirectory(_directory);
        _epmdPort = ServerProcess.FreePort();
        start.Environment["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
        start.Environment["RABBITMQ_NODE_PORT"] = $"{port}";
        start.Environment["RABBITMQ_DIST_PORT"] = $"{ServerProcess.FreePort()}";
        start.Environment["ERL_EPMD_PORT"] = $"{_epmdPort}";
        start.Environment["RABBITMQ_NODENAME"] = $"iotrace{port}@localhost";
        start.Environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(_directory, "mnesia");
        start.Environment["RABBITMQ_LOG_BASE"] = Path.Combine(_directory, "log");
        start.Environment["RABBITMQ_LOGS"] = "-";
        start.Environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(_directory, "enabled_plugins");
        start.Environment["HOME"] = _directory;
    }

    protected override async Task CleanUpAsync()
    {
        // The node started a port mapper of its own on its own port: stopped with it.
        using var epmd = Process.Start(new ProcessStartInfo("epmd", ["-port", $"{_epmdPort}", "-kill"]) { RedirectStandardOutput = true, RedirectStandardError = true });
        if (epmd is not null)
        {
            await epmd.WaitForExitAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }
}
