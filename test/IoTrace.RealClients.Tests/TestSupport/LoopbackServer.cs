using System.Diagnostics;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.RealClients.Tests.TestSupport;

/// <summary>
/// A server that is one program of a Debian package (.ci/run installs it), on a free loopback port, ready once it prints
/// <paramref name="readyLine"/>; started by the first test that needs it.
/// </summary>
public abstract class LoopbackServer(string program, string package, string readyLine) : IAsyncDisposable
{
    private readonly SemaphoreSlim _starting = new(1, 1);
    private ServerProcess? _server;

    public int Port { get; private set; }

    /// <summary>Skips (fails under CI) where the package is not installed; starts the server once.</summary>
    public async Task RequireAsync()
    {
        Requires.That(File.Exists(program), $"{package} is not installed (apt-get install {package})");
        await _starting.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (_server is null)
            {
                Port = ServerProcess.FreePort();
                var start = new ProcessStartInfo(program);
                foreach (var argument in Arguments(Port))
                {
                    start.ArgumentList.Add(argument);
                }

                Prepare(start, Port);
                _server = await ServerProcess.StartAsync(start, readyLine, StopSignal);
            }
        }
        finally
        {
            _starting.Release();
        }
    }

    /// <summary>The signal that stops the server.</summary>
    protected virtual int StopSignal => ServerProcess.SIGINT;

    /// <summary>The program's arguments: listening on 127.0.0.1:<paramref name="port"/> only.</summary>
    protected abstract IEnumerable<string> Arguments(int port);

    /// <summary>What else the program needs to start on <paramref name="port"/> (its environment).</summary>
    protected virtual void Prepare(ProcessStartInfo start, int port)
    {
    }

    /// <summary>Cleans up after the server stopped (a helper it left running, its files).</summary>
    protected virtual Task CleanUpAsync() => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
            await CleanUpAsync();
        }

        _starting.Dispose();
        GC.SuppressFinalize(this);
    }
}
