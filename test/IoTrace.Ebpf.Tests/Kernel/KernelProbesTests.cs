using System.Diagnostics;
using System.Globalization;
using IoTrace.Ebpf.Kernel;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Platform.Linux;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests.Kernel;

/// <summary>
/// The kernel program on each kind of tracepoint: BTF-typed (with CPU time), and raw, as built for kernels without
/// BTF (chosen here with IOTRACE_EBPF_TRACEPOINTS): each attaches, counts a file read exactly, and detaches. The
/// threads that read and charge its flushes run ahead of the app's.
/// </summary>
[Collection(typeof(KernelTracing))]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class KernelProbesTests(EbpfFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-probes-").FullName;
    private readonly string? _configured = Environment.GetEnvironmentVariable("IOTRACE_EBPF_TRACEPOINTS");

    public void Dispose()
    {
        // The next test attaches the backend this machine chooses again (from another backend: the provider creates it anew).
        _ = IoTracer.TryEnable("inprocess", out _);
        Environment.SetEnvironmentVariable("IOTRACE_EBPF_TRACEPOINTS", _configured);
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData("btf", "Btf", true)]
    [InlineData("raw", "Raw", false)]
    public void TryEnable_Tracepoints_CountsAFileReadExactlyAndDetachesWithinASecond(string configured, string expected, bool measuresCpu)
    {
        fixture.Require();
        var path = Path.Combine(_directory, "data.bin");
        File.WriteAllBytes(path, new byte[3_210]);
        Assert.True(IoTracer.TryEnable("inprocess", out var reason), reason);
        Environment.SetEnvironmentVariable("IOTRACE_EBPF_TRACEPOINTS", configured);

        var attaching = Stopwatch.StartNew();
        Assert.True(IoTracer.TryEnable("ebpf", out reason), reason);
        attaching.Stop();
        var backend = EbpfFixture.Backend;
        var scope = IoTracer.Start(Strategy.All, new IoTraceStartOptions { Features = IoTraceFeatures.All });
        _ = File.ReadAllBytes(path);
        var report = scope.Stop();
        var detaching = Stopwatch.StartNew();
        IoTracer.Disable();
        detaching.Stop();

        Assert.Equal((expected, "ebpf", true), (backend.Tracepoints.ToString(), report.Backend, report.IsComplete));
        Assert.Equal("close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 3210", EbpfBackendTests.ByProbe(report));
        Assert.Equal(measuresCpu, report.Features.HasFlag(IoTraceFeatures.Cpu));
        Assert.All(report.Aggregates, a => Assert.EndsWith("KernelProbesTests.cs", a.File, StringComparison.Ordinal));
        // Loosely: the benchmark measures them (bench/IoTrace.Benchmarks ebpf-attach); this only catches a regression to seconds.
        Assert.InRange(backend.ProgramAttachDuration, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(1));
        Assert.InRange(detaching.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    private const int FlushNiceness = -5;

    [Fact]
    public void Start_AsRoot_TheFlushThreadsRunAheadOfTheApp()
    {
        fixture.Require();

        // Thread names as the kernel keeps them: 15 characters.
        var raised = Directory.GetDirectories("/proc/self/task")
            .Select(Describe)
            .Where(static thread => thread?.Niceness == FlushNiceness)
            .Select(static thread => thread!.Value.Name)
            .Order(StringComparer.Ordinal);
        // Distinct: a detached backend's threads (an earlier test switched backends) may still be finishing.
        Assert.Equal(["IoTrace BPF map", "IoTrace eBPF fl"], raised.Distinct());
    }

    /// <summary>
    /// A raised thread's children start at the default priority: the thread pool starts its workers on the thread
    /// that queues work, and the flush threads queue trace completions.
    /// </summary>
    [Fact]
    public void RaiseCurrentThreadPriority_ThreadItStarts_StartsAtTheDefaultPriority()
    {
        Requires.Ebpf();
        var (raised, child) = (0, 0);
        var parent = new Thread(() =>
        {
            KernelProbes.RaiseCurrentThreadPriority();
            raised = Niceness($"/proc/self/task/{LibcInterop.CurrentThreadId}/stat");
            var started = new Thread(() => child = Niceness($"/proc/self/task/{LibcInterop.CurrentThreadId}/stat"));
            started.Start();
            started.Join();
        });
        parent.Start();
        parent.Join();

        Assert.Equal((FlushNiceness, Niceness("/proc/self/stat")), (raised, child));
    }

    /// <summary>A thread's name and nice value; none for a thread that exited since its directory was listed.</summary>
    private static (string Name, int Niceness)? Describe(string task)
    {
        try
        {
            return (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n'), Niceness(Path.Combine(task, "stat")));
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static int Niceness(string statPath)
    {
        // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
        var stat = File.ReadAllText(statPath);
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[19 - 3], CultureInfo.InvariantCulture);
    }
}
