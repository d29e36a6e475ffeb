using System.Runtime.CompilerServices;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests.Attribution;

/// <summary>Which line a kernel stack gets, through the backend: the first application frame's, with the code map current for it.</summary>
[Collection(typeof(KernelTracing))]
public sealed class StackAttributorTests(EbpfFixture fixture) : IDisposable
{
    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    // Above the test: LineOf finds the first line holding its text.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReadInNewCode()
    {
        var buffer = new byte[1_000];
        using var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        _ = stream.Read(buffer); // the read in new code
    }

    /// <summary>
    /// The read is made by a method first called (and jitted) inside the trace, whose caller, this test, is known to the
    /// code map already: the flush comes before the runtime's events for the new method, and the call must wait for
    /// them rather than take the known caller's line (and keep it, once cached, for every later call).
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Resolve_IoInCodeJittedDuringTheTrace_LineInThatCodeNotItsKnownCallers()
    {
        fixture.Require();
        File.WriteAllBytes(_path, new byte[123]);
        Assert.True(EbpfFixture.Backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));

        for (var round = 0; round < 2; round++)
        {
            var report = IoTracer.Trace(Strategy.All, ReadInNewCode); // the known caller

            Assert.Equal(("ebpf", true), (report.Backend, report.IsComplete));
            var read = Assert.Single(report.Aggregates, a => a.Target == _path && a.Probe is "read" or "pread64");
            Assert.Equal((SourceLines.Of("_ = stream.Read(buffer); // the read in new code"), 1L, 123L), (read.Line, read.Calls, read.Bytes));
        }
    }
}
