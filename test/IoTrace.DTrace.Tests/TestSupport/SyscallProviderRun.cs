using System.Diagnostics;
using IoTrace.DTrace.Consumer;
using IoTrace.DTrace.Script;
using Xunit;

namespace IoTrace.DTrace.Tests.TestSupport;

/// <summary>
/// dtrace running a syscall provider's script against this process, read by <see cref="AggregateOutputParser"/>;
/// started once its probes are enabled. With <c>IOTRACE_DTRACE_RECORDING</c> set, its output is appended there.
/// </summary>
internal sealed class SyscallProviderRun : IAsyncDisposable
{
    private readonly Process _dtrace;
    private readonly Task<string> _stderr;
    private readonly string _script;
    private readonly string? _recording = Environment.GetEnvironmentVariable("IOTRACE_DTRACE_RECORDING");

    private SyscallProviderRun(string script)
    {
        _script = script;

        // As the backend does before it starts dtrace: a dtrace killed before (by a test's timeout) may have left its
        // uprobes behind, which keep a new one from enabling its probes.
        if (OperatingSystem.IsLinux())
        {
            _ = DTraceLeftovers.Remove();
        }

        _dtrace = Process.Start(new ProcessStartInfo("dtrace", ["-q", "-s", script]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        _stderr = _dtrace.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
    }

    public AggregateOutputParser Parser { get; } = new();

    public static async Task<SyscallProviderRun> StartAsync(string scriptText)
    {
        var script = Path.Combine(Path.GetTempPath(), $"iotrace-syscall-provider-{Guid.NewGuid():N}.d");
        await File.WriteAllTextAsync(script, scriptText, TestContext.Current.CancellationToken);
        var run = new SyscallProviderRun(script);
        await run.ReadUntil(line => run.Parser.Add(line) is null && run.Parser.IsReady ? [] : null);
        return run;
    }

    /// <summary>
    /// Asks for two flushes, the second once the first is read (every call that returned before the first is in one of
    /// them, the script printing a flush late), and returns their rows.
    /// </summary>
    public async Task<IReadOnlyList<AggregateRow>> FlushAsync()
    {
        SyscallProviderScript.RequestFlush();
        var first = await ReadUntil(line => Parser.Add(line)?.Rows);
        SyscallProviderScript.RequestFlush();
        var second = await ReadUntil(line => Parser.Add(line)?.Rows);
        return [.. first, .. second];
    }

    /// <summary>What dtrace wrote to stderr: it is stopped first.</summary>
    public async Task<string> ErrorsAsync()
    {
        await StopAsync();
        return await _stderr;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _dtrace.Dispose();
        File.Delete(_script);
    }

    private async Task StopAsync()
    {
        // SIGTERM, never SIGKILL: to print ustack() dtrace grabs this process and plants a breakpoint in the dynamic
        // linker; killed, it leaves it there and this process's next dlopen dies of SIGTRAP.
        if (!_dtrace.HasExited)
        {
            Signals.Terminate(_dtrace);
        }

        // At its exit dtrace prints what its aggregations still hold (the sets not printed yet): read to the end, or a
        // full pipe would keep it from exiting.
        _ = await _dtrace.StandardOutput.ReadToEndAsync(CancellationToken.None);
        await _dtrace.WaitForExitAsync(CancellationToken.None);
    }

    /// <summary>Hands dtrace's lines to <paramref name="done"/> until it returns rows; fails if dtrace exits first, or after a minute.</summary>
    private async Task<IReadOnlyList<AggregateRow>> ReadUntil(Func<string, IReadOnlyList<AggregateRow>?> done)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(1));
        while (await _dtrace.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (_recording is not null)
            {
                await File.AppendAllTextAsync(_recording, line + "\n", timeout.Token);
            }

            if (done(line) is { } rows)
            {
                return rows;
            }
        }

        await _dtrace.WaitForExitAsync(timeout.Token);
        Assert.Fail($"dtrace exited ({_dtrace.ExitCode}) before it was done: {await _stderr}");
        return [];
    }
}
