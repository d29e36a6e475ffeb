using System.Runtime.Versioning;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Soak;

/// <summary>
/// Bytes the middleware allocates per request, over a pipeline without it, measured with
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> around requests that run synchronously on the test's thread
/// (the least of at least three windows of 2,000 requests, after 500 of warm-up, until two in a row agree).
/// The bounds are the figures published in docs/performance.md ("Allocation per request") plus about 15%: a
/// change that allocates more per request fails here, and one that allocates less than half should lower the bound.
/// Measured twice: with a logger that reads each report's message (a text sink: the table is rendered, and its string
/// is most of what it adds) and with one that does not (a sink that keeps only the fields: the table is never rendered).
/// </summary>
[Collection(typeof(ProcessWideSoak))]
[SupportedOSPlatform("linux")]
public sealed class MiddlewareAllocationTests
{
    private const int WarmUpRequests = 500;
    private const int MeasuredRequests = 2000;
    private const int MinWindows = 3;
    private const int MaxWindows = 20;
    private const int FileSize = 100;

    private static readonly string s_file = TestFiles.Create(FileSize);

    [Fact]
    public void InvokeAsync_TracingDisabled_AllocatesNothingPerRequest()
    {
        var perRequest = BytesPerRequest(new() { ["Enabled"] = "false" }, ReadFile);

        Assert.True(perRequest < 1, $"The disabled middleware allocated {perRequest:F1} bytes per request; it must return _next(context) and allocate nothing.");
    }

    [Theory]
    [InlineData("0", null)]
    [InlineData("0.5", "4bf92f3577b34da6a3ffffffffffffff")]
    public void InvokeAsync_RequestLeftOutBySampling_AllocatesNothingPerRequest(string ratio, string? traceId)
    {
        // With a trace id, the requests run under an activity whose id the ratio leaves out: the draw reads it.
        using var activity = traceId is null
            ? null
            : new System.Diagnostics.Activity("request").SetParentId(
                System.Diagnostics.ActivityTraceId.CreateFromString(traceId),
                System.Diagnostics.ActivitySpanId.CreateFromString("00f067aa0ba902b7"),
                System.Diagnostics.ActivityTraceFlags.Recorded).Start();

        var perRequest = BytesPerRequest(new() { ["SamplingRatio"] = ratio }, ReadFile);

        Assert.True(perRequest < 1, $"A request left out by sampling allocated {perRequest:F1} bytes; it must return _next(context) and allocate nothing.");
    }

    [Theory]
    [InlineData("Summary", false, true, 1_800)]
    [InlineData("Summary", true, true, 4_270)]
    [InlineData("All", false, true, 1_870)]
    [InlineData("All", true, true, 9_240)]
    [InlineData("Summary", false, false, 980)]
    [InlineData("Summary", true, false, 2_830)]
    [InlineData("All", false, false, 980)]
    [InlineData("All", true, false, 4_620)]
    public void InvokeAsync_TracedRequest_AllocatesWithinTheDocumentedBound(string strategy, bool readsFile, bool readsMessage, int bound)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the in-process backend runs on Linux only");
        var perRequest = BytesPerRequest(new() { ["Strategy"] = strategy }, readsFile ? ReadFile : NoIo, readsMessage);

        var what = $"{strategy}, {(readsFile ? "file read" : "no IO")}, {(readsMessage ? "message read" : "message not read")}";
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: {perRequest:F0} bytes per request (bound {bound})");
        Assert.True(perRequest <= bound, $"{what}: {perRequest:F0} bytes per request, over the bound of {bound}.");
        Assert.True(perRequest > bound / 2, $"{what}: {perRequest:F0} bytes per request, under half the bound of {bound}: lower the bound (and the figure in docs/performance.md).");
    }

    /// <summary>The middleware's allocations per request: the pipeline with it, minus the same pipeline without it.</summary>
    private static double BytesPerRequest(Dictionary<string, string?> ioTrace, RequestDelegate endpoint, bool readsMessage = true)
    {
        // Formatter and features as the product's defaults; every report is logged.
        using var traced = new InProcessPipeline(ioTrace, endpoint, readsMessage);
        using var untraced = new InProcessPipeline(ioTrace: null, endpoint, readsMessage);
        return (Measure(traced) - Measure(untraced)) / (double)MeasuredRequests;
    }

    private static long Measure(InProcessPipeline pipeline)
    {
        // The first requests resolve call sites (a StackTrace each) and fill caches: not a per-request cost.
        for (var i = 0; i < WarmUpRequests; i++)
        {
            pipeline.Invoke("/bench");
        }

        // Tier-1 recompilation keeps moving code for a while after the warm-up (longer on a busy machine), and each
        // moved call site is resolved once more, from the PDB: a one-off of up to 2 MB a window, not a per-request cost.
        // So windows run until two in a row allocate the same to within 1% (at least three windows), and the least counts.
        var least = long.MaxValue;
        var previous = long.MaxValue;
        for (var window = 0; window < MaxWindows; window++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < MeasuredRequests; i++)
            {
                pipeline.Invoke("/bench");
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            least = Math.Min(least, allocated);
            if (window >= MinWindows - 1 && Math.Abs(allocated - previous) <= previous / 100)
            {
                break;
            }

            previous = allocated;
        }

        return least;
    }

    private static Task NoIo(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        return Task.CompletedTask;
    }

    // openat, flock, fstat, pread64 (twice), flock, close: the IO of a small file read.
    private static Task ReadFile(HttpContext context)
    {
        context.Response.StatusCode = File.ReadAllBytes(s_file).Length == FileSize ? StatusCodes.Status200OK : StatusCodes.Status500InternalServerError;
        return Task.CompletedTask;
    }
}
