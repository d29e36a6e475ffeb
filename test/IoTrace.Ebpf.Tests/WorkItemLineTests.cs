using System.Text.Json;
using IoTrace.Attribution;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests;

/// <summary>
/// An async FileStream's reads run on thread-pool threads whose stacks hold no application frame: each thread publishes
/// the number of the line its calls inherit (the line that queued its work item) with its trace, the kernel keeps it
/// with each call, and the calls take that line, as in process.
/// </summary>
[Collection(typeof(KernelTracing))]
public sealed class WorkItemLineTests(EbpfFixture fixture) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-ebpf-work-items-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task TraceAsync_AsyncFileStreamReadsOnThePool_TakeTheLineThatAwaitedThem()
    {
        fixture.Require();
        var path = Path.Combine(_directory, "items.json");
        await File.WriteAllTextAsync(path, "[" + string.Join(',', Enumerable.Range(0, 3000).Select(static i => $"{{\"id\":{i},\"name\":\"{new string('x', 40)}\"}}")) + "]", TestContext.Current.CancellationToken);

        // Once untraced, so the traced run's code is in the backend's code map.
        _ = await DeserializeAsync(path);
        Assert.True(EbpfFixture.Backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));
        var report = await IoTracer.TraceAsync(Strategy.All, async () =>
        {
            await ThreadPoolCallSites.FirstEventSinceEnabled.WaitAsync(TestContext.Current.CancellationToken);
            Assert.Equal(3000, await DeserializeAsync(path));
        });

        Assert.Equal(("ebpf", true), (report.Backend, report.IsComplete));
        var reads = report.Aggregates.Where(a => a.Target == path && a.Probe == "pread64").ToList();
        Assert.True(reads.Sum(a => a.Calls) > 1, "the file takes several reads");
        Assert.Equal(new FileInfo(path).Length, reads.Sum(a => a.Bytes));
        Assert.All(reads, a => Assert.Equal(("WorkItemLineTests.cs", SourceLines.Of("// the " + "deserialization")), (Path.GetFileName(a.File), a.Line)));
        Assert.Equal(SourceLines.Of("// the " + "open"), Assert.Single(report.Aggregates, a => a.Target == path && a.Probe == "openat").Line);
    }

    private static async Task<int> DeserializeAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, useAsync: true); // the open
        var items = await JsonSerializer.DeserializeAsync<JsonElement[]>(stream, cancellationToken: TestContext.Current.CancellationToken); // the deserialization
        return items!.Length;
    }
}
