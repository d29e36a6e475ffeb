using System.Diagnostics;
using BenchmarkDotNet.Attributes;

namespace IoTrace.Benchmarks;

/// <summary>
/// One request through the IoTrace middleware, without a server: time and bytes allocated per request, for each
/// configuration of the load benchmark (bench/load), on an endpoint without IO and on one that reads a small file.
/// The request runs synchronously, its report included (<see cref="MiddlewarePipeline"/>); the middleware's share is the
/// difference to <c>none</c>.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet disposes in [GlobalCleanup].")]
public class MiddlewareRequest
{
    private const int FileSize = 100;

    private string? _file;
    private MiddlewarePipeline? _pipeline;

    /// <summary><c>none</c>: no middleware; <c>disabled</c>: <c>IoTrace:Enabled=false</c>; else the strategy.</summary>
    [Params("none", "disabled", "Summary", "Write", "All")]
    public string Configuration { get; set; } = "none";

    [Params(false, true)]
    public bool ReadsFile { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _file = Path.Combine(Path.GetTempPath(), $"iotrace-bench-{Environment.ProcessId}.bin");
        File.WriteAllBytes(_file, new byte[FileSize]);
        _pipeline = MiddlewarePipeline.ForConfiguration(Configuration, ReadsFile ? _file : null);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // Proof that the traced configurations traced: one report per request.
        var traced = Configuration is not ("none" or "disabled");
        Console.WriteLine($"// {Configuration}: {_pipeline!.Reports} reports logged");
        Trace.Assert(traced == _pipeline.Reports > 0, "reports were logged if and only if the configuration traces");
        _pipeline.Dispose();
        File.Delete(_file!);
    }

    [Benchmark]
    public int Request() => _pipeline!.Invoke("/bench");
}
