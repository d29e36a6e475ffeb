using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace IoTrace.RealClients.Tests.TestSupport;

/// <summary>A database server the tests start on a free loopback port, ready once it prints its ready line, stopped with a signal.</summary>
internal sealed partial class ServerProcess : IAsyncDisposable
{
    public const int SIGINT = 2;
    public const int SIGTERM = 15;

    private readonly Process _process;
    private readonly int _stopSignal;
    private readonly List<string> _output = [];

    private ServerProcess(Process process, int stopSignal) => (_process, _stopSignal) = (process, stopSignal);

    /// <summary>
    /// Starts <paramref name="start"/> and returns once a line of its output contains <paramref name="ready"/>; throws
    /// with its output if it exits first. It is stopped with <paramref name="stopSignal"/>.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(ProcessStartInfo start, string ready, int stopSignal = SIGINT)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var server = new ServerProcess(Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start"), stopSignal);
        var isReady = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is not { } line)
            {
                return;
            }

            lock (server._output)
            {
                server._output.Add(line);
            }

            if (line.Contains(ready, StringComparison.Ordinal))
            {
                isReady.TrySetResult();
            }
        }

        server._process.OutputDataReceived += OnLine;
        server._process.ErrorDataReceived += OnLine;
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        var exited = server._process.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        if (await Task.WhenAny(isReady.Task, exited, Task.Delay(Timeout.Infinite, timeout.Token)) != isReady.Task)
        {
            var output = server.Output;
            await server.DisposeAsync();
            throw new InvalidOperationException($"{start.FileName} did not say \"{ready}\":\n{output}");
        }

        return server;
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    /// <summary>A loopback port no one listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Stops the server with its signal (SIGINT: PostgreSQL's fast shutdown, Redis's shutdown), killed if it lingers.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _ = kill(_process.Id, _stopSignal);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
