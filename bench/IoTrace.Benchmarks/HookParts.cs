using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using BenchmarkDotNet.Attributes;
using IoTrace.Backends.Unavailable;
using IoTrace.Attribution;
using IoTrace.Tracing;
using IoTrace.Probes;
using IoTrace.Platform.Linux;

namespace IoTrace.Benchmarks;

/// <summary>
/// The pieces of <c>IoHook.OnCall</c>, each on its own, to see where a traced call's overhead goes.
/// Not a per-call budget by itself: the hook also pays the native-to-managed transition, which only the
/// <see cref="IoCallOverhead"/> benchmarks include.
/// </summary>
[MemoryDiagnoser]
[SupportedOSPlatform("linux")]
public unsafe class HookParts
{
    // Frames between the hook and the benchmark loop in a real call (trampoline, libSystem.Native, the
    // P/Invoke stub, RandomAccess): the call-site key walks them all.
    private const int ExtraFrames = 12;

    private NativeShim _shim = null!;
    private TraceSession _all = null!;
    private TraceSession _summary = null!;
    private CallSiteResolver _resolver = null!;
    private SourceLocation _site = null!;
    private ulong _key;
    private int _pread64;
    private int _fd;
    private string _target = null!;

    [GlobalSetup]
    public void Setup()
    {
        _shim = NativeShim.Shared(out var reason) ?? throw new InvalidOperationException(reason);

        // Calls are charged by hand here: the recorder only names the trace's backend.
        var recorder = new UnavailableBackend("bench");
        _resolver = new CallSiteResolver(IoTraceStartOptions.DefaultSkippedNamespaces);
        _all = new TraceSession(Strategy.All, IoTraceFeatures.All, recorder, _resolver, Environment.CurrentDirectory);
        _summary = new TraceSession(Strategy.Summary, IoTraceFeatures.All, recorder, _resolver, Environment.CurrentDirectory);
        _pread64 = ProbeCatalog.IndexOf("pread64");
        _fd = 42;
        _target = Path.Combine(Path.GetTempPath(), "iotrace-bench-12345.bin");
        _all.NameFd(_fd, 0, _target);
        TraceContext.Current = _all;
        _key = CallSiteKey();
        _site = _resolver.Resolve(_key).Site;
        _all.Charge(new IoCall(_pread64, _fd, 0, null, _site, 1, 1, 1, 1));
    }

#pragma warning disable CA1822 // BenchmarkDotNet measures instance methods.
    /// <summary>Stopwatch.GetTimestamp: the hook reads it twice per call (wall time).</summary>
    [Benchmark(Baseline = true)]
    public long WallClock() => Stopwatch.GetTimestamp();

    /// <summary>clock_gettime(CLOCK_THREAD_CPUTIME_ID) through the shim: read twice per call (CPU time).</summary>
    [Benchmark]
    public long ThreadCpuClock() => _shim.ThreadCpuNanoseconds();

    /// <summary>TraceContext.Current, an AsyncLocal read: once per call.</summary>
    [Benchmark]
    public object? AsyncLocalRead() => TraceContext.Current;

    /// <summary>Saving and restoring errno around the bookkeeping.</summary>
    [Benchmark]
    public int LastError()
    {
        var errno = Marshal.GetLastSystemError();
        Marshal.SetLastSystemError(errno);
        return errno;
    }
#pragma warning restore CA1822

    /// <summary>The EAGAIN-owner lookup an untraced flow makes.</summary>
    [Benchmark]
    public object? FdOwner() => FdOwners.Get(_fd);

    /// <summary>Summary aggregation: four interlocked adds on the probe's counter.</summary>
    [Benchmark]
    public void RecordSummary() => _summary.Charge(IoCall.Counted(_pread64, 1, 1, 100, 100));

    /// <summary>All: the frame-pointer walk that keys the call site, 12 frames below the benchmark.</summary>
    [Benchmark]
    public ulong CallSiteKeyWalk() => Deeper(ExtraFrames);

    /// <summary>All: the call-site cache hit on that key.</summary>
    [Benchmark]
    public object ResolveCached() => _resolver.Resolve(_key).Site;

    /// <summary>All: the fd's life in the trace (its target, its opener).</summary>
    [Benchmark]
    public object? FdLife() => _all.LifeOf(_fd, 0);

    /// <summary>All aggregation: the fd's life, the keyed dictionary lookup and four interlocked adds.</summary>
    [Benchmark]
    public void RecordAll() => _all.Charge(new IoCall(_pread64, _fd, 0, null, _site, 1, 1, 100, 100));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong Deeper(int frames) => frames == 0 ? CallSiteKey() : Deeper(frames - 1);

    private ulong CallSiteKey()
    {
        int frames;
        return _shim.CallSiteKey(&frames);
    }
}
