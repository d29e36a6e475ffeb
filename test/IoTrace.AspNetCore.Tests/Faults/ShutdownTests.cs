using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Faults;

/// <summary>
/// An app shut down by SIGTERM while traced requests are in flight, in a process of its own
/// (IoTrace.AspNetCore.Tests.Host): the in-flight requests finish and are reported, the process exits 0 without a
/// word on stderr, the hooks are restored under a request that is still making IO calls, and nothing outlives it.
/// </summary>
/// <remarks>
/// The middleware does not switch tracing off when its app stops: several hosts (and block traces) can share a
/// process, and Disable would cut their traces short. The core restores the hooks at process exit, which is what
/// this checks.
/// </remarks>
public sealed class ShutdownTests
{
    private const int Sigterm = 15;
    private const int FileSize = 36_001;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task UseIoTrace_SigtermWhileRequestsAreInFlight_ExitsCleanlyWithHooksRestoredAndNothingLeft()
    {
        Requires.Linux();
        var file = TestFiles.Create(FileSize);
        await using var host = ChildHost.Start(file);
        using var client = new HttpClient { BaseAddress = new Uri((await host.WaitForLineAsync("listening ")).Split(' ')[1]) };

        // Each request's headers arrive once it is inside its endpoint: four wait for shutdown, one spins through it.
        var blocked = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => GetHeadersAsync(client, "/block")));
        using var spinning = await GetHeadersAsync(client, "/spin");
        string[] bodies;
        try
        {
            Assert.Equal(0, Kill(host.Id, Sigterm));
            bodies = await Task.WhenAll(blocked.Select(r => r.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)));
        }
        finally
        {
            foreach (var response in blocked)
            {
                response.Dispose();
            }
        }

        Assert.Equal(0, await host.WaitForExitAsync());
        Assert.Equal("", host.Errors);
        Assert.All(bodies, body => Assert.Equal((2 * FileSize).ToString(CultureInfo.InvariantCulture), body));

        // Each finished request was traced to the end (two file reads: openat, flock, fstat twice, pread64, flock, close), and
        // nothing was logged as a warning or an error; then the host stopped, and the runtime restored the hooks.
        var lines = host.Lines;
        Assert.Equal(Enumerable.Repeat($"report /block 200 14 {2 * FileSize} True", 4), lines.Where(l => l.StartsWith("report ", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("log ", StringComparison.Ordinal));
        Assert.Equal("stopped", lines[^2]);
        Assert.Matches(@"^hooks [1-9]\d* slots, 0 patched, 0 not at their original target$", lines[^1]);
        Assert.Empty(ProcessesInSession(host.Id));
    }

    private static Task<HttpResponseMessage> GetHeadersAsync(HttpClient client, string path) =>
        client.GetAsync(new Uri(path, UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);

    /// <summary>The processes of a session (field 6 of /proc/&lt;pid&gt;/stat): the host leads its own.</summary>
    private static List<string> ProcessesInSession(int session)
    {
        var members = new List<string>();
        foreach (var directory in Directory.EnumerateDirectories("/proc").Where(d => Path.GetFileName(d).All(char.IsAsciiDigit)))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue; // a process that just exited
            }

            // "pid (comm) state ppid pgrp session ...": the command may hold spaces and parentheses, the rest does not.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields[3] == session.ToString(CultureInfo.InvariantCulture))
            {
                members.Add(stat[..(stat.LastIndexOf(')') + 1)]);
            }
        }

        return members;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>IoTrace.AspNetCore.Tests.Host started with <c>dotnet</c>, its stdout collected line by line.</summary>
    private sealed class ChildHost : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly ConcurrentQueue<string> _errors = new();
        private readonly Lock _lock = new();
        private readonly List<(string Prefix, TaskCompletionSource<string> Line)> _waiters = [];

        private ChildHost(Process process)
        {
            _process = process;
        }

        public int Id => _process.Id;

        public IReadOnlyList<string> Lines => [.. _lines];

        public string Errors => string.Join(Environment.NewLine, _errors);

        public static ChildHost Start(string file)
        {
            var start = new ProcessStartInfo(DotnetHost.Path)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                ArgumentList = { Path.Combine(AppContext.BaseDirectory, "IoTrace.AspNetCore.Tests.Host.dll"), file },
            };

            // The host binds 127.0.0.1:0 itself; an inherited URL or port setting would only add a warning that it is overridden.
            foreach (var variable in new[] { "URLS", "HTTP_PORTS", "HTTPS_PORTS" })
            {
                start.Environment.Remove("ASPNETCORE_" + variable);
                start.Environment.Remove("DOTNET_" + variable);
            }
            var host = new ChildHost(new Process { StartInfo = start });
            host._process.OutputDataReceived += (_, e) => host.OnLine(e.Data);
            host._process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    host._errors.Enqueue(e.Data);
                }
            };
            host._process.Start();
            host._process.BeginOutputReadLine();
            host._process.BeginErrorReadLine();
            return host;
        }

        public async Task<string> WaitForLineAsync(string prefix)
        {
            var line = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                if (_lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is { } seen)
                {
                    return seen;
                }

                _waiters.Add((prefix, line));
            }

            try
            {
                return await line.Task.WaitAsync(s_timeout, TestContext.Current.CancellationToken);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"The host wrote no '{prefix}' line in {s_timeout}. stdout:{Environment.NewLine}{string.Join(Environment.NewLine, _lines)}{Environment.NewLine}stderr:{Environment.NewLine}{Errors}");
            }
        }

        /// <summary>Waits for the exit and for the end of its output; returns the exit code.</summary>
        public async Task<int> WaitForExitAsync()
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(s_timeout);
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            // Only when the test failed before the host exited: never leave it running.
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None);
            }

            _process.Dispose();
        }

        private void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_lock)
            {
                _lines.Enqueue(line);
                for (var i = _waiters.Count - 1; i >= 0; i--)
                {
                    if (line.StartsWith(_waiters[i].Prefix, StringComparison.Ordinal))
                    {
                        _waiters[i].Line.TrySetResult(line);
                        _waiters.RemoveAt(i);
                    }
                }
            }
        }
    }
}
