using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Tests.KernelBackends;
using IoTrace.Tests.Shared;
using Xunit;
using IoTrace.Probes;

namespace IoTrace.Ebpf.Tests;

[Collection(typeof(KernelTracing))]
public sealed class EbpfBackendTests(EbpfFixture fixture) : KernelBackendContract
{
    protected override string Backend => "ebpf";

    protected override string HostAssembly => "IoTrace.Ebpf.Tests.Host.dll";

    protected override void RequireBackend() => fixture.Require();

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    protected override bool WaitUntilCodeMapCurrent(TimeSpan timeout) => EbpfFixture.Backend.WaitUntilCodeMapCurrent(timeout);

    [Theory]
    [InlineData(Strategy.Summary)]
    [InlineData(Strategy.Read)]
    public void Trace_CpuFeatureOnlyWhenAsked_KernelMeasuresItThenAndOnlyThen(Strategy strategy)
    {
        fixture.Require();
        var path = WriteFile($"cpu-{strategy}.bin", 50_000);
        var withCpu = new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time | IoTraceFeatures.Cpu };

        var measured = IoTracer.Start(strategy, withCpu);
        File.ReadAllBytes(path);
        var cpu = Assert.Single(measured.Stop().Aggregates, a => a.Probe == "pread64");
        var unmeasured = IoTracer.Start(strategy);
        File.ReadAllBytes(path);
        var noCpu = Assert.Single(unmeasured.Stop().Aggregates, a => a.Probe == "pread64");

        // The kernel keeps no CPU map for a trace that does not ask (the slot's CPU bit), and one when it does.
        Assert.True(cpu.Cpu > TimeSpan.Zero && cpu.Cpu <= cpu.Time, $"time {cpu.Time}, cpu {cpu.Cpu}");
        Assert.Equal((50_000L, TimeSpan.Zero), (noCpu.Bytes, noCpu.Cpu));
        Assert.True(noCpu.Time > TimeSpan.Zero);
    }

    /// <summary>
    /// A flush may charge calls on an fd whose close comes in the next one, when its number already names another file:
    /// the kernel's generation of the number tells that life apart, and the backend then describes nothing.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void DescribeFd_TheFdClosedSinceThatLife_NoTargetEvenWhenItsNumberIsOpenAgain()
    {
        fixture.Require();
        var (first, second) = (WriteFile("describe-first.bin", 10), WriteFile("describe-second.bin", 10));
        var backend = EbpfFixture.Backend;
        var states = backend.Probes!.FdStates;
        var opened = File.OpenHandle(first);
        var fd = (int)opened.DangerousGetHandle();
        var life = states.Generation(fd)!.Value;
        Assert.Equal(first, backend.DescribeFd(fd, life));

        opened.Dispose();
        using var other = File.OpenHandle(second);
        // The number names the second file now (dup2 is no close: the generation counts the first's close only).
        Assert.Equal(fd, Dup2((int)other.DangerousGetHandle(), fd));
        using var reopened = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);

        Assert.Equal(life + 1, states.Generation(fd));
        Assert.Null(backend.DescribeFd(fd, life));
        Assert.Equal(second, backend.DescribeFd(fd, life + 1));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static extern int Dup2(int oldFd, int newFd);

    [Fact]
    public void Trace_WaitFeatureOnABlockedReceive_WaitIsWallMinusCpuAndMostOfTheCall()
    {
        fixture.Require();
        using var blocked = new BlockedReceive();
        var scope = IoTracer.Start(Strategy.Read, new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Wait });
        var received = blocked.Receive();
        var report = scope.Stop();

        BlockedReceive.AssertWaitedMostOfTheCall(report, received);
    }

    [Fact]
    public void Trace_BlockedReceiveWokenOnAnotherCpu_CpuIsOnlyTheTimeOnACpu()
    {
        // Each CPU's task clock leaves out the time that CPU lost (steal, interrupts), which differs between CPUs.
        fixture.Require();
        using var blocked = new BlockedReceive();
        var scope = IoTracer.Start(Strategy.Read, new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Wait });
        var received = blocked.Receive(wakeOnAnotherCpu: true);
        var report = scope.Stop();

        BlockedReceive.AssertWaitedMostOfTheCall(report, received);
    }

    [Fact]
    public void Trace_CpuFeature_IsNeverAboveWallTime()
    {
        fixture.Require();
        var path = WriteFile("cpu.bin", 50_000);
        using var scope = IoTracer.Start(Strategy.All, new IoTraceStartOptions { Features = IoTraceFeatures.Calls | IoTraceFeatures.Bytes | IoTraceFeatures.Time | IoTraceFeatures.Cpu });
        File.ReadAllBytes(path);
        var report = scope.Stop();

        var pread = Assert.Single(report.Aggregates, a => a.Probe == "pread64");
        Assert.True(pread.Time > TimeSpan.Zero && pread.Cpu > TimeSpan.Zero && pread.Cpu <= pread.Time, $"time {pread.Time}, cpu {pread.Cpu}");
    }

    /// <summary>
    /// A read that would block makes the trace its socket's owner until the retry, so the kernel program charges the
    /// socket's calls from any thread to it. The flush thread names the socket (getpeername) when it charges the read:
    /// the tracer's own call, in no report, however the flushes fall (a cold Npgsql connect's report once had it).
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Trace_FlushNamesASocketTheTraceOwns_TheTracersGetpeernameIsInNoReport()
    {
        fixture.Require();
        var backend = EbpfFixture.Backend;
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using var server = listener.Accept();
        client.Blocking = false;

        var recvfrom = ProbeCatalog.IndexOf("recvfrom");
        var flushes = new SemaphoreSlim(0);
        var readSeen = 0;
        backend.FlushApplying = flush =>
        {
            if (Volatile.Read(ref readSeen) == 0 && flush.Aggregates.Values.Any(a => a.Probe == recvfrom))
            {
                Volatile.Write(ref readSeen, 1);
            }

            if (Volatile.Read(ref readSeen) != 0)
            {
                flushes.Release();
            }
        };
        IoTraceReport report;
        try
        {
            var scope = IoTracer.Start(Strategy.All);
            var error = Assert.Throws<SocketException>(() => client.Receive(new byte[16]));
            Assert.Equal(SocketError.WouldBlock, error.SocketErrorCode);

            // The flush that charges the read names the socket while the trace owns it; the two after it hold whatever
            // that naming counted, and the trace still runs.
            for (var i = 0; i < 3; i++)
            {
                Assert.True(flushes.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken), "no flush within 10 s");
            }

            report = scope.Stop();
        }
        finally
        {
            backend.FlushApplying = null;
        }

        Assert.True(report.IsComplete);
        Assert.Equal("recvfrom 1 0", KernelBackendAgreement.ByProbe(report));
        Assert.Equal(listener.LocalEndPoint!.ToString(), Assert.Single(report.Aggregates).Target);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Trace_CallPathResolvedInAnEarlierTrace_KernelStopsTheWalkAtTheCheckpointAndTheLineStays()
    {
        fixture.Require();
        var backend = EbpfFixture.Backend;
        var path = WriteFile("shortcut.bin", 100);
        using var file = File.OpenHandle(path);
        var fd = file.DangerousGetHandle();
        Assert.Equal(100, DeepCall.Level1(fd)); // untraced once: the chain is jitted and in the code map before the traces
        Assert.True(backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));

        var pread = IoTrace.Probes.ProbeCatalog.IndexOf("pread64");
        var stacks = new System.Collections.Concurrent.ConcurrentQueue<ulong[]>();
        backend.FlushApplying = flush =>
        {
            foreach (var aggregate in flush.Aggregates.Values.Where(a => a.Probe == pread))
            {
                stacks.Enqueue(aggregate.Stack);
            }
        };
        IoTraceReport first, second;
        ulong[][] firstStacks;
        try
        {
            first = TraceDeepCall(fd);
            firstStacks = [.. stacks];
            stacks.Clear();
            second = TraceDeepCall(fd);
        }
        finally
        {
            backend.FlushApplying = null;
        }

        // The first trace's walk went past the first checkpoint (6 frames after the ip); resolving it found the app
        // frame there and marked those frames, so the second trace's walk stopped at them. Both have the line.
        var line = SourceLines.Of("// the shortcut" + "'s call");
        foreach (var report in new[] { first, second })
        {
            Assert.True(report.IsComplete);
            var call = Assert.Single(report.Aggregates, a => a.Probe == "pread64");
            Assert.Equal(("EbpfBackendTests.cs", line, 1L, 100L), (Path.GetFileName(call.File), call.Line ?? 0, call.Calls, call.Bytes));
        }

        var full = Assert.Single(firstStacks);
        var cut = Assert.Single(stacks);
        Assert.True(full.Length > 7, $"the first walk ended after {full.Length} frames");
        Assert.Equal(full[..7], cut);
    }

    private static IoTraceReport TraceDeepCall(nint fd) => IoTracer.Trace(Strategy.All, () => DeepCall.Level1(fd));

    internal static string ByProbe(IoTraceReport report) => KernelBackendAgreement.ByProbe(report);

    /// <summary>
    /// Six frames of the test's own between the call and the rest of the stack. Called three times, they stay at tier 0,
    /// which keeps every frame pointer and is never re-jitted between the two traces.
    /// </summary>
    private static class DeepCall
    {
        private static readonly unsafe void* s_buffer = System.Runtime.InteropServices.NativeMemory.Alloc(100);

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static nint Level1(nint fd) => Level2(fd);

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static nint Level2(nint fd) => Level3(fd);

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static nint Level3(nint fd) => Level4(fd);

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static nint Level4(nint fd) => Level5(fd);

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static nint Level5(nint fd) => Level6(fd);

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static unsafe nint Level6(nint fd) => DirectLibc.Pread(fd, (byte*)s_buffer, 100, 0); // the shortcut's call
    }
}
