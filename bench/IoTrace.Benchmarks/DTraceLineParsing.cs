using System.Globalization;
using System.Runtime.Versioning;
using BenchmarkDotNet.Attributes;
using IoTrace.DTrace.Consumer;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;

namespace IoTrace.Benchmarks;

/// <summary>
/// What the dtrace backend's process spends reading one printed call (<see cref="DTraceLineParser.ParseCall"/>): a
/// call with context (<c>C</c>, 42 frames, the stack 12 frames deep, as a request's are) and one without (<c>S</c>,
/// three frames). Every traced call under the dtrace backend is one such line.
/// </summary>
[SupportedOSPlatform("linux")]
[MemoryDiagnoser]
public class DTraceLineParsing
{
    private readonly DTraceLineParser _parser = new();
    private string _withContext = "";
    private string _withoutContext = "";

    [GlobalSetup]
    public void Setup()
    {
        var read = LinuxSyscalls.X64.ToList().FindIndex(static s => s.Name == "pread64");
        var frames = Enumerable.Range(0, DTraceScript.Frames + 2).Select(i => i < 12 ? (0x7f00_0000_1000UL + ((ulong)i * 0x40)).ToString("x", CultureInfo.InvariantCulture) : "0");
        _withContext = $"C 7 {read} 35 4 100 1234 {string.Join(' ', frames)}";
        _withoutContext = $"S 7 {read} -1 0 100 1234 7f0000001000 0 7f0000002000";
    }

    [Benchmark(Baseline = true)]
    public long WithContext() => _parser.ParseCall(_withContext)!.Bytes;

    [Benchmark]
    public long WithoutContext() => _parser.ParseCall(_withoutContext)!.Bytes;
}
