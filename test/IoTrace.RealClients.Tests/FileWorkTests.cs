using IoTrace.RealClients.Tests.TestSupport;
using Xunit;

namespace IoTrace.RealClients.Tests;

/// <summary>Library work on files (zip, JSON, File.Copy, directory enumeration): calls on the work's paths, against strace.</summary>
public sealed class FileWorkTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("iotrace-realclients-").FullName;

    public FileWorkTests()
    {
        // Seven folders with a file each (zip, enumerate), 1 MiB to copy, and a JSON array of objects.
        Directory.CreateDirectory(Path.Combine(_root, "tree"));
        File.WriteAllText(Path.Combine(_root, "tree", "f0"), "top");
        for (var i = 1; i <= 6; i++)
        {
            File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(_root, "tree", $"d{i}")).FullName, "f"), $"file {i}");
        }

        File.WriteAllBytes(Path.Combine(_root, "source.bin"), new byte[1 << 20]);
        File.WriteAllText(Path.Combine(_root, "items.json"), "[" + string.Join(',', Enumerable.Range(0, 2000).Select(static i => $"{{\"id\":{i},\"name\":\"{new string('x', 50)}\"}}")) + "]");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("inprocess", "zip")]
    [InlineData("ebpf", "zip")]
    [InlineData("inprocess", "json")]
    [InlineData("ebpf", "json")]
    [InlineData("inprocess", "enumerate")]
    [InlineData("ebpf", "enumerate")]
    [InlineData("inprocess", "copy")]
    [InlineData("ebpf", "copy")]
    public async Task Workload_CallsOnItsPaths_MatchStrace(string backend, string workload)
    {
        var run = await HostRun.StartAsync(backend, workload, _root);

        Assert.Equal($"DONE {backend} True", run.Done);
        Assert.Equal(HostRun.Totals(run.StracedUnder(_root)), HostRun.Totals(run.ReportedUnder(_root)));
    }

    /// <summary>
    /// The JSON workload's first deserialisation loads an assembly (System.Numerics.Vectors) inside the trace: the
    /// kernel sees the runtime read it, and its walk from there meets native runtime code it cannot step through. It is
    /// the runtime's own IO all the same, left out of the report.
    /// </summary>
    [Fact]
    public async Task Json_Ebpf_AssemblyLoadsOfTheRuntimeLeftOut()
    {
        var run = await HostRun.StartAsync("ebpf", "json", _root);

        Assert.Contains(run.Window, static c => c.Name == "openat" && c.Text.Contains("System.Numerics.Vectors.dll", StringComparison.Ordinal));
        Assert.DoesNotContain(run.Rows, static r => r.Target.StartsWith(Path.GetDirectoryName(typeof(object).Assembly.Location)!, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("inprocess")]
    [InlineData("ebpf")]
    public async Task Copy_CopyFileRangeMadeThroughSyscall_CountsItsBytesOnTheCopysLine(string backend)
    {
        var run = await HostRun.StartAsync(backend, "copy", _root);

        // libSystem.Native makes copy_file_range through syscall(2), not through libc's copy_file_range.
        Assert.Equal(["copy_file_range 1 1048576"], HostRun.Totals(run.StracedUnder(_root).Where(static c => c.Name == "copy_file_range")));
        var copy = Assert.Single(run.ReportedUnder(_root), static r => r.Probe == "copy_file_range");
        Assert.Equal((HostRun.LineOf("// the copy"), 1L, 1048576L), (copy.Line ?? 0, copy.Calls, copy.Bytes));
    }

    [Theory]
    [InlineData("inprocess")]
    [InlineData("ebpf")]
    [InlineData("dtrace")]
    public async Task Json_ReadsOfAnAsyncFileStream_TakeTheLineThatAwaitedThem(string backend)
    {
        var run = await HostRun.StartAsync(backend, "json", _root);

        // The reads run on pool threads with no frame of the app: they take the line that queued them (ThreadPoolCallSites).
        var reads = Assert.Single(run.Rows, static r => r.Probe == "pread64");
        Assert.Equal((HostRun.LineOf("// the json read"), new FileInfo(Path.Combine(_root, "items.json")).Length), (reads.Line ?? 0, reads.Bytes));
    }
}
