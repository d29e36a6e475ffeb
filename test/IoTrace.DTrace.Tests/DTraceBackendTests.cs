using System.Globalization;
using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Tests.KernelBackends;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests;

/// <summary>The dtrace backend: the kernel backends' contract, and what is its own.</summary>
[Collection(typeof(DTraceTracing))]
public sealed class DTraceBackendTests(DTraceFixture fixture) : KernelBackendContract
{
    protected override string Backend => "dtrace";

    protected override string HostAssembly => "IoTrace.DTrace.Tests.Host.dll";

    protected override void RequireBackend() => fixture.Require();

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    protected override bool WaitUntilCodeMapCurrent(TimeSpan timeout) => DTraceFixture.Backend.WaitUntilCodeMapCurrent(timeout);

    [Fact]
    public void Trace_CpuAsked_ReportSaysUnavailableRatherThanZero()
    {
        fixture.Require();
        var path = WriteFile("cpu.bin", 5_000);
        var withCpu = new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time | IoTraceFeatures.Cpu };

        var scope = IoTracer.Start(Strategy.Read, withCpu);
        File.ReadAllBytes(path);
        var report = scope.Stop();

        // DTrace for Linux has no vtimestamp.
        Assert.Equal(IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time, report.Features);
        Assert.Equal(5_000, Assert.Single(report.Aggregates).Bytes);
    }

    /// <summary>
    /// The backend running the other systems' script (<see cref="DTraceBackend.ScriptKind"/>: aggregations in dtrace,
    /// flushed a flush late, stacks from <c>ustack()</c>) in a fresh process under strace: the same calls and bytes on the
    /// work's files and socket as strace, on the work's own lines. What macOS, FreeBSD and illumos will run, but for their
    /// catalogs and system services.
    /// </summary>
    [Fact]
    public async Task Trace_SyscallProviderScriptFileSystemWork_MatchesStraceOnTheWorksLines()
    {
        fixture.Require();
        var run = await SyscallProviderHost.Value;

        var (files, socket) = FileSystemWorkStrace.Read(run.Log, run.Root);
        var reported = FileSystemWorkStrace.Reported(
            run.Files.Select(static r => (r[0], (string?)r[5], long.Parse(r[3], CultureInfo.InvariantCulture), long.Parse(r[4], CultureInfo.InvariantCulture))), run.Root);
        Assert.Contains("copy_file_range 1 3000", reported.Files);
        Assert.Contains("getdents64 2 136", reported.Files);
        Assert.Equal(FileSystemWorkStrace.Lines(files), reported.Files);
        Assert.Equal(FileSystemWorkStrace.Lines(socket), reported.Socket);

        // Each row on the work's folder on a line of the work's, but one: glibc's open keeps the path in rbp, where
        // ustack()'s frame-pointer walk looks for the caller's frame. An open whose fd's later calls share one line takes
        // it (the core's rule); moved.bin's are on four lines.
        var folder = FileSystemWork.Folder(run.Root);
        var work = run.Files.Where(r => r[5].StartsWith(folder, StringComparison.Ordinal)).ToList();
        Assert.Equal([$"openat {Path.Combine(folder, "moved.bin")}"], work.Where(static r => r[1].Length == 0).Select(static r => $"{r[0]} {r[5]}"));
        Assert.All(work.Where(static r => r[1].Length != 0), static r => Assert.Equal($"{nameof(FileSystemWork)}.cs", r[1]));
    }

    /// <summary>
    /// The other systems' script, eight threads at once in the same process, Read and Summary traces by turns, each
    /// reading a file of its own three times: each report has exactly its own calls and its file's bytes as strace saw
    /// them, whole (its rows are printed a flush after its stop, which the backend asks for).
    /// </summary>
    [Fact]
    public async Task Trace_SyscallProviderScriptConcurrentFlows_EachGetsExactlyItsOwnCalls()
    {
        fixture.Require();
        var run = await SyscallProviderHost.Value;

        var straced = StraceLog.Calls(run.Log);
        var expected = Enumerable.Range(0, 8).Select(i =>
        {
            var reads = StraceLog.Lines(straced.Where(c => c.Name == "pread64" && c.Text.Contains($"<{Path.Combine(run.Root, $"flow{i}.bin")}>", StringComparison.Ordinal)));
            var read = Assert.Single(reads);
            return i % 2 == 0 ? $"{i} True {read}" : $"{i} True close 3 0, flock 6 0, fstat 6 0, openat 3 0, {read}";
        });
        Assert.Equal(expected, run.Flows);
    }

    /// <summary>
    /// The other systems' script prints a connect's peer as the call returns, a flush before its row: the row's target
    /// is the listener's address, as strace saw the connect's.
    /// </summary>
    [Fact]
    public async Task Trace_SyscallProviderScriptConnect_TargetIsThePeerStraceSaw()
    {
        fixture.Require();
        var run = await SyscallProviderHost.Value;

        var listener = run.Connect.Split(' ')[1];
        var straced = StraceLog.Calls(run.Log).Where(static c => c.Name == "connect").ToList();
        var (address, port) = (listener.Split(':')[0], listener.Split(':')[1]);
        Assert.Single(straced, c => c.Text.Contains($"sin_port=htons({port}), sin_addr=inet_addr(\"{address}\")", StringComparison.Ordinal));
        Assert.Equal($"connect {listener} 1 {listener}", run.Connect);
    }

    /// <summary>
    /// One run of the test host with the other systems' script, under strace, for the tests above: the backend's dtrace
    /// enables every call's probes, and DTrace for Linux takes about 10 s to disable them when the host exits.
    /// </summary>
    private static readonly Lazy<Task<HostRun>> SyscallProviderHost = new(static async () =>
    {
        var root = Directory.CreateTempSubdirectory("iotrace-syscall-provider-").FullName;
        try
        {
            var (stdout, log) = await StraceLog.RunAsync(StraceLog.IoClasses, Path.Combine(AppContext.BaseDirectory, "IoTrace.DTrace.Tests.Host.dll"), "--syscall-provider", "files", root, "flows", "connect");
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var done = Array.IndexOf(lines, "DONE dtrace True");
            Assert.True(done >= 0 && lines[^1].StartsWith("connect ", StringComparison.Ordinal), stdout);
            return new HostRun(root, log, [.. lines[..done].Select(static l => l.Split('\t'))], lines[(done + 1)..^1], lines[^1]);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    });

    private sealed record HostRun(string Root, string[] Log, IReadOnlyList<string[]> Files, string[] Flows, string Connect);

    /// <summary>
    /// Flushes asked for by other traces' stops while a Summary trace makes many calls: none of its calls is lost or
    /// counted twice, however its lines fall between the flushes (a script that aggregates them in dtrace lost some).
    /// </summary>
    [Fact]
    public void Trace_SummaryCallsWhileOtherTracesFlush_EveryCallCountedOnce()
    {
        fixture.Require();
        const int Reads = 50_000;
        var counted = WriteFile("counted.bin", 64);
        var other = WriteFile("other.bin", 100);
        var done = false;
        var otherReports = new List<IoTraceReport>();
        var others = new Thread(() =>
        {
            while (!Volatile.Read(ref done))
            {
                otherReports.Add(IoTracer.Trace(Strategy.Read, () => File.ReadAllBytes(other)));
            }
        });

        using var handle = File.OpenHandle(counted);
        var buffer = new byte[1];
        others.Start();
        var report = IoTracer.Trace(Strategy.Summary, () =>
        {
            for (var i = 0; i < Reads; i++)
            {
                RandomAccess.Read(handle, buffer, 0);
            }
        });
        Volatile.Write(ref done, true);
        others.Join();

        Assert.True(report.IsComplete);
        Assert.True(otherReports.Count >= 2, $"{otherReports.Count} flushes while the trace counted");
        Assert.All(otherReports, r => Assert.Equal("pread64 1 100", KernelBackendAgreement.ByProbe(r)));
        Assert.Equal($"pread64 {Reads} {Reads}", KernelBackendAgreement.ByProbe(report));
    }
}
