using System.Diagnostics;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.RealClients.Tests.TestSupport;

/// <summary>
/// A PostgreSQL server of Debian's packages (.ci/run installs them), in a cluster made for the tests' run and removed
/// after it, on a loopback port; started by the first test that needs it. As root, it runs as the postgres user.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly SemaphoreSlim _starting = new(1, 1);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"iotrace-postgres-{Guid.NewGuid():N}");
    private ServerProcess? _server;

    public int Port { get; private set; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres";

    /// <summary>Skips (fails under CI) where PostgreSQL is not installed; starts the server once.</summary>
    public async Task RequireAsync()
    {
        var bin = Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql").Select(v => Path.Combine(v, "bin")).FirstOrDefault(b => File.Exists(Path.Combine(b, "postgres"))) : null;
        Requires.That(bin is not null, "PostgreSQL is not installed (apt-get install postgresql)");
        await _starting.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            _server ??= await StartAsync(bin!);
        }
        finally
        {
            _starting.Release();
        }
    }

    private async Task<ServerProcess> StartAsync(string bin)
    {
        // The cluster's owner may not be root: the folder is open to the postgres user, which initdb and the server run as.
        Directory.CreateDirectory(_directory);
        File.SetUnixFileMode(_directory, (UnixFileMode)0b111_111_111);
        var data = Path.Combine(_directory, "data");
        await RunAsync(AsServerUser(Path.Combine(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"));

        Port = ServerProcess.FreePort();
        return await ServerProcess.StartAsync(
            AsServerUser(Path.Combine(bin, "postgres"), "-D", data, "-p", $"{Port}", "-k", _directory, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"),
            "database system is ready to accept connections");
    }

    private static ProcessStartInfo AsServerUser(string program, params string[] arguments)
    {
        var start = Environment.UserName == "root" ? new ProcessStartInfo("setpriv") : new ProcessStartInfo(program);
        if (Environment.UserName == "root")
        {
            foreach (var argument in (string[])["--reuid=postgres", "--regid=postgres", "--init-groups", "--", program])
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private static async Task RunAsync(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', start.ArgumentList)} exited {process.ExitCode}:\n{await output}\n{await errors}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }

        _starting.Dispose();
    }
}
