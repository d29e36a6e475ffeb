using System.Globalization;
using IoTrace.Ebpf.Kernel;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf.Tests.Kernel;

[Collection(typeof(KernelTracing))]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BpftraceProcessTests(EbpfFixture fixture)
{
    private const int FlushNiceness = -5;

    [Fact]
    public void Start_AsRoot_BpftraceItsOutputReaderAndTheFlushThreadRunAheadOfTheApp()
    {
        fixture.Require();
        var backend = EbpfFixture.Backend;
        var bpftrace = Assert.NotNull(backend.BpftraceProcessId);

        // Field 19 of /proc/PID/stat is the nice value; a thread's is in /proc/self/task/TID/stat.
        Assert.Equal(FlushNiceness, Niceness($"/proc/{bpftrace}/stat"));
        // Thread names as the kernel keeps them: 15 characters.
        var raised = Directory.GetDirectories("/proc/self/task")
            .Select(Describe)
            .Where(static thread => thread?.Niceness == FlushNiceness)
            .Select(static thread => thread!.Value.Name)
            .Order(StringComparer.Ordinal);
        // Distinct: a detached backend's threads (an earlier test switched backends) may still be finishing.
        Assert.Equal(["IoTrace bpftrac", "IoTrace eBPF fl"], raised.Distinct());
    }

    /// <summary>
    /// A raised thread's children start at the default priority: the thread pool starts its workers on the thread
    /// that queues work, and the flush thread queues trace completions.
    /// </summary>
    [Fact]
    public void RaiseCurrentThreadPriority_ThreadItStarts_StartsAtTheDefaultPriority()
    {
        Requires.Ebpf();
        var (raised, child) = (0, 0);
        var parent = new Thread(() =>
        {
            BpftraceProcess.RaiseCurrentThreadPriority();
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
