using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Symbols.Tests.Managed;

public sealed class ManagedCodeMapTests(ManagedCodeMapFixture fixture) : IClassFixture<ManagedCodeMapFixture>
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    private readonly ManagedCodeMap _map = fixture.Map;

    [Fact]
    public void TryStart_RundownRead_MapHoldsCodeJittedBeforeStart()
    {
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"started in {_map.StartDuration.TotalMilliseconds:F0} ms ({_map.StartPhases}); rundown: {_map.RundownCodeRanges} code ranges, {_map.RundownBytes / 1024} KB");

        Assert.True(_map.RundownCodeRanges > 0);
        Assert.True(_map.MethodCount > 0);
        Assert.True(_map.CodeRangeCount >= _map.RundownCodeRanges);
        Assert.Null(_map.FailureReason);
    }

    [Fact]
    public void TryResolve_MethodJittedAfterStart_ReturnsMethodILOffsetAndLine()
    {
        var probe = JittedAfterStart();
        Assert.True(_map.WaitUntilCurrent(s_timeout));

        AssertResolvesLikeStackFrame(probe);
        Assert.Equal(SourceLines.Of("// the jitted-after-start " + "call"), probe.CallLine);
    }

    [Fact]
    public void TryResolve_MethodJittedBeforeStart_ResolvesFromRundown()
    {
        var probe = fixture.BeforeStart;
        var versions = _map.GetCodeVersions(probe.CallerFrame.GetMethod()!);

        Assert.Single(versions);
        Assert.True(versions[0].HasILMap);
        AssertResolvesLikeStackFrame(probe);
    }

    [Fact]
    public void TryResolve_AfterTierUp_ResolvesTheTier1Version()
    {
        // A method that tiers up, called until it has: in Release one of this assembly's own; in Debug, where this
        // assembly's methods never tier up, the framework method that invokes an ExecutionContext callback (ReadyToRun
        // code, then jitted tier1 once hot), one frame further out.
#if DEBUG
        var context = ExecutionContext.Capture()!;
        StackProbe? captured = null;
        ContextCallback callback = capture => captured = (bool)capture! ? StackProbe.Capture() : null;
        StackProbe? Run(bool capture)
        {
            ExecutionContext.Run(context, callback, capture);
            return captured;
        }

        const int frameIndex = 1;
#else
        static StackProbe? Run(bool capture) => TiersUp(capture);
        const int frameIndex = 0;
#endif
        var method = Run(true)!.Frames[frameIndex].GetMethod()!;
        var deadline = Stopwatch.StartNew();
        CodeVersion[] versions;

        // Tiering promotes a method after 30 calls and a quiet 100 ms; each barrier round trip gives it time.
        do
        {
            for (var i = 0; i < 100; i++)
            {
                Run(false);
            }

            Assert.True(_map.WaitUntilCurrent(s_timeout));
            versions = _map.GetCodeVersions(method);
        }
        while (!versions.Any(v => v.Tier == "OptimizedTier1") && deadline.Elapsed < s_timeout);

        Assert.Contains(versions, v => v.Tier == "OptimizedTier1");
        Assert.All(versions.Where(v => v.IsJitted), v => Assert.True(v.HasILMap));

        // The next call runs the tier1 code.
        var probe = Run(true)!;
        var frame = AssertResolvesLikeStackFrame(probe, frameIndex);
        Assert.True(probe.TryFindReturnAddress(_map, frameIndex, out var address, out _));
        var start = address - (ulong)frame.NativeOffset;

        // Under load the runtime may have installed a later optimized version meanwhile (instrumented tier1, then tier1).
        Assert.True(_map.WaitUntilCurrent(s_timeout));
        Assert.StartsWith("OptimizedTier1", Assert.Single(_map.GetCodeVersions(method), v => v.Start == start).Tier, StringComparison.Ordinal);
    }

    [Fact]
    public void TryResolve_OptimizedMethodInDebugAssembly_ResolvesLikeStackFrame()
    {
        var probe = Optimized();
        Assert.True(_map.WaitUntilCurrent(s_timeout));

        AssertResolvesLikeStackFrame(probe);
    }

    [Fact]
    public void TryResolve_AddressOutsideJittedCode_ReturnsFalse()
    {
        var getpid = (ulong)NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "getpid");

        Assert.False(_map.TryResolve(getpid, isReturnAddress: false, out _));
        Assert.False(_map.TryResolve(0, isReturnAddress: true, out _));
        Assert.False(_map.TryResolve(1, isReturnAddress: false, out _));
        Assert.False(_map.TryResolve(ulong.MaxValue, isReturnAddress: false, out _));
    }

    [Fact]
    public void TryResolve_RepeatedHit_DoesNotAllocate()
    {
        var probe = JittedForAllocationCheck();
        Assert.True(_map.WaitUntilCurrent(s_timeout));
        Assert.True(probe.TryFindReturnAddress(_map, 0, out var address, out _));
        Assert.True(_map.TryResolve(address, isReturnAddress: true, out _));

        // The least of three windows: code jitted meanwhile by tests running in parallel makes the next lookup rebuild
        // the table's snapshot, once, on its thread; that is not the hit path.
        var allocated = long.MaxValue;
        var hits = 0;
        for (var window = 0; window < 3; window++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 10_000; i++)
            {
                hits += _map.TryResolve(address, isReturnAddress: true, out _) ? 1 : 0;
            }

            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, allocated);
        Assert.Equal(30_000, hits);
    }

    [Fact]
    public void WaitUntilCurrent_SessionRunning_ReturnsTrue()
    {
        Assert.True(_map.WaitUntilCurrent(s_timeout));
        Assert.True(_map.WaitUntilCurrent(s_timeout));
    }

    [Fact]
    public void Dispose_StartedMap_StopsAndLaterCallsFailQuietly()
    {
        Assert.True(ManagedCodeMap.TryStart(s_timeout, out var map, out var reason), reason);

        map!.Dispose();

        Assert.False(map.WaitUntilCurrent(TimeSpan.FromSeconds(1)));
        Assert.False(map.TryResolve(0, isReturnAddress: true, out _));
        map.Dispose();
    }

    private ManagedFrame AssertResolvesLikeStackFrame(StackProbe probe, int frameIndex = 0)
    {
        var expected = probe.Frames[frameIndex];
        Assert.True(probe.TryFindReturnAddress(_map, frameIndex, out _, out var frame));

        Assert.Equal(expected.GetMethod(), frame.Method);
        Assert.Equal(expected.GetNativeOffset(), frame.NativeOffset);
        Assert.Equal(expected.GetILOffset(), frame.ILOffset);
        Assert.Equal(expected.GetFileName(), frame.File);
        Assert.Equal(expected.GetFileName() is null ? null : expected.GetFileLineNumber(), frame.Line);
        Assert.Equal(expected.GetMethod()!.Name, frame.MethodName);
        if (frameIndex == 0)
        {
            Assert.Equal(probe.CallLine, frame.Line);
        }

        return frame;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static StackProbe? TiersUp(bool capture) => capture ? StackProbe.Capture() : null;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static StackProbe JittedAfterStart()
    {
        var probe = StackProbe.Capture(); // the jitted-after-start call
        return probe;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static StackProbe JittedForAllocationCheck() => StackProbe.Capture();

    // Fully optimized at once, even in a debug build, unlike the rest of this assembly.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static StackProbe Optimized() => StackProbe.Capture();
}
