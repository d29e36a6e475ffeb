using System.Runtime.CompilerServices;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests.Attribution;

/// <summary>
/// StreamReader's path constructor is precompiled (ReadyToRun) without a frame pointer: a frame-pointer walk from its
/// open goes from it to its caller's caller. The kernel learns to step through it from the flush that meets it.
/// </summary>
[Collection(typeof(KernelTracing))]
public sealed class FramelessFramesTests(EbpfFixture fixture) : IDisposable
{
    private const int MaxLearningRounds = 4;

    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    // Above the test: LineOf finds the first line holding its text.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private string OpenThroughAFramelessConstructor()
    {
        using var reader = new StreamReader(_path); // the open through a frameless constructor
        return reader.ReadToEnd();
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void SkippedACaller_OpenThroughStreamReadersConstructor_OpenGetsTheLineOfTheNewStreamReader()
    {
        fixture.Require();
        File.WriteAllText(_path, "hello");
        _ = OpenThroughAFramelessConstructor();
        Assert.True(EbpfFixture.Backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));
        var line = SourceLines.Of("new StreamReader(_path); // the open through a frameless constructor");

        var opens = new List<int?>();
        do
        {
            var report = IoTracer.Trace(Strategy.All, () => _ = OpenThroughAFramelessConstructor()); // the caller's line
            Assert.Equal(("ebpf", true), (report.Backend, report.IsComplete));
            opens.Add(Assert.Single(report.Aggregates, a => a.Target == _path && a.Probe == "openat").Line);
        }
        while (opens[^1] != line && opens.Count < MaxLearningRounds);

        // Until the kernel steps through the constructor: no line, never the caller's.
        Assert.Equal(line, opens[^1]);
        Assert.All(opens, l => Assert.True(l is null || l == line, $"the open got line {l}"));
        TestContext.Current.SendDiagnosticMessage($"the open's line after {opens.Count} trace(s)");
    }

    /// <summary>
    /// A lesson serves the threads already in a trace too: the thread's slot, published when the trace began, says
    /// nothing of what the kernel learns after.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void SkippedACaller_LessonLearnedDuringTheTrace_TheTracesNextOpenGetsItsLine()
    {
        // A kernel program of its own: none of the constructor's lessons yet.
        IoTracer.Disable();
        fixture.Require();
        File.WriteAllText(_path, "hello");
        _ = OpenThroughAFramelessConstructor();
        Assert.True(EbpfFixture.Backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));
        var probes = EbpfFixture.Backend.Probes!;
        Assert.Equal(0UL, probes.FramelessBloom);
        var line = SourceLines.Of("new StreamReader(_path); // the open through a frameless constructor");

        var taught = false;
        var report = IoTracer.Trace(Strategy.All, () =>
        {
            _ = OpenThroughAFramelessConstructor();

            // Its flush, charged while the trace runs, teaches the kernel the constructor.
            taught = SpinWait.SpinUntil(() =>
            {
                probes.RequestFlush();
                return probes.FramelessBloom != 0;
            }, TimeSpan.FromSeconds(30));
            _ = OpenThroughAFramelessConstructor();
        });

        Assert.True(taught, "no lesson within 30 s");
        var opens = report.Aggregates.Where(a => a.Target == _path && a.Probe == "openat").OrderBy(static a => a.Line ?? 0).Select(static a => (a.Line, a.Calls));
        Assert.Equal([(null, 1L), (line, 1L)], opens);
    }
}
