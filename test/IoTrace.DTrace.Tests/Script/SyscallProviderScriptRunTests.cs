using IoTrace.Attribution;
using IoTrace.DTrace.Attribution;
using IoTrace.DTrace.Consumer;
using IoTrace.DTrace.Script;
using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Tests.Shared;
using IoTrace.Tracing;
using Microsoft.Win32.SafeHandles;
using Xunit;

namespace IoTrace.DTrace.Tests.Script;

/// <summary>
/// The syscall provider's script run for real against this process: on DTrace for Linux with Linux's catalog, what
/// macOS, FreeBSD and illumos will run with theirs (and the macOS workflow runs on macOS). Its own dtrace, beside none
/// of the backend's (the dtrace tests' collection).
/// </summary>
[Collection(typeof(DTraceTracing))]
public sealed class SyscallProviderScriptRunTests
{
    private const int ReadSize = 1000;

    /// <summary>
    /// Two traces at once, one with context and one without, and a thread of none: each trace's reads exactly, as the
    /// work makes them (one pread64 per RandomAccess.Read), the untraced thread's nowhere; charged through the core, the
    /// context trace's row has the line that read, resolved from its ustack() addresses.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Run_TwoTracesAndAnUntracedThread_EachTracesReadsExactlyOnItsLine()
    {
        Requires.DTrace();
        var table = TraceSlotTable.Shared(out var reason) ?? throw new InvalidOperationException(reason);
        Assert.True(ManagedCodeMap.TryStart(TimeSpan.FromSeconds(10), out var started, out reason), reason);
        using var map = started!;
        using var file = await BlocksFile.CreateAsync();
        var resolver = new CallSiteResolver([]);
        var withContext = new TraceSession(Strategy.Read, IoTraceFeatures.All, new FakeBackend(), resolver, Path.GetTempPath());
        var summary = new TraceSession(Strategy.Summary, IoTraceFeatures.All, new FakeBackend(), resolver, Path.GetTempPath());
        table.MapThreadPages();
        await using var run = await SyscallProviderRun.StartAsync(SyscallProviderScript.Generate(DTracePlatform.Linux, Environment.ProcessId, table.Address, Strategy.Read));

        foreach (var (session, count) in (ReadOnlySpan<(TraceSession?, int)>)[(withContext, 10), (summary, 3), (null, 4)])
        {
            var thread = new Thread(() => ReadBlocks(table, session, file.Handle, count));
            thread.Start();
            thread.Join();
        }

        var rows = await run.FlushAsync();

        var context = await SingleRow(run, rows, r => r.Trace == withContext.Id);
        Assert.Equal(("pread64", 10L, 10L * ReadSize, file.Fd, (string?)null), (context.Call, context.Calls, context.Bytes, context.Fd, context.Path));
        Assert.True(context.WallNanoseconds > 0);
        Assert.Null(context.CpuNanoseconds);
        var counted = await SingleRow(run, rows, r => r.Trace == summary.Id);
        Assert.Equal(("pread64", 3L, 3L * ReadSize, -1, 0), (counted.Call, counted.Calls, counted.Bytes, counted.Fd, counted.Stack.Length));
        Assert.DoesNotContain(rows, r => r.Calls == 4);

        // Through the core: the context trace's row on the line that read, from its ustack() addresses.
        var sessions = new Dictionary<long, TraceSession> { [withContext.Id] = withContext, [summary.Id] = summary };
        new AggregateCharger(DTracePlatform.Linux, sessions.GetValueOrDefault, new StackAttributor(map, new PlainStackWalk())).Charge(new AggregateFlush(rows, []));
        var read = Assert.Single(withContext.Stop().Aggregates);
        Assert.Equal(
            ("pread64", $"{nameof(SyscallProviderScriptRunTests)}.cs", SourceLines.Of("RandomAccess.Read(handle, buffer, block"), 10L, 10L * ReadSize),
            (read.Probe, Path.GetFileName(read.File), read.Line, read.Calls, read.Bytes));
        var summed = Assert.Single(summary.Stop().Aggregates);
        Assert.Equal(("pread64", 3L, 3L * ReadSize), (summed.Probe, summed.Calls, summed.Bytes));
        Assert.True(run.Parser.Unrecognized == 0, await run.ErrorsAsync());
    }

    /// <summary>
    /// Without a slot table, on whichever platform this runs (Linux here, macOS in the workflow): the reading thread is a
    /// trace of its own, keyed by its id, and its reads are exactly what it made, on its fd, under the platform's name
    /// for them. With <c>IOTRACE_DTRACE_RECORDING</c> set, dtrace's output is kept: a macOS run's is the parser's
    /// fixture for that platform.
    /// </summary>
    [Fact]
    public async Task Run_ThisPlatformWithoutASlotTable_TheThreadsReadsExactly()
    {
        Requires.DTraceOnThisPlatform();
        var platform = DTracePlatform.Current!;
        using var file = await BlocksFile.CreateAsync();
        await using var run = await SyscallProviderRun.StartAsync(SyscallProviderScript.Generate(platform, Environment.ProcessId, 0, Strategy.Read));

        long tid = 0;
        var reader = new Thread(() =>
        {
            tid = ThreadIds.Current();
            ReadBlocks(table: null, session: null, file.Handle, 7);
        });
        reader.Start();
        reader.Join();
        var rows = await run.FlushAsync();

        var reads = await SingleRow(run, rows, r => r.Trace == tid && r.Fd == file.Fd);
        Assert.Equal("pread64", platform.Find(reads.Call)?.Like);
        Assert.Equal((7L, 7L * ReadSize, platform.HasVtimestamp), (reads.Calls, reads.Bytes, reads.CpuNanoseconds is not null));
        Assert.NotEmpty(reads.Stack);
        Assert.True(run.Parser.Unrecognized == 0, await run.ErrorsAsync());
    }

    /// <summary>
    /// To print ustack() dtrace grabs this process and plants a breakpoint in its dynamic linker (on Linux at r_debug's
    /// r_brk, <c>_dl_debug_state</c>); stopped as the tests and the bench stop it (SIGTERM), it takes the breakpoint out
    /// again. Left in, the library loaded here would kill this test process with SIGTRAP.
    /// </summary>
    [Fact]
    public async Task Stop_AfterStacksWerePrinted_TakesItsBreakpointOutOfTheDynamicLinker()
    {
        Requires.DTraceOnThisPlatform();
        using var file = await BlocksFile.CreateAsync();
        var before = LinkerBreakpointInstruction();
        var run = await SyscallProviderRun.StartAsync(SyscallProviderScript.Generate(DTracePlatform.Current!, Environment.ProcessId, 0, Strategy.Read));
        await using (run)
        {
            var reader = new Thread(() => ReadBlocks(table: null, session: null, file.Handle, 1));
            reader.Start();
            reader.Join();
            Assert.Contains(await run.FlushAsync(), r => r.Fd == file.Fd && r.Stack.Length > 0);

            // The breakpoint is in (int3): the stop has one to take out.
            Assert.Equal(before is null ? null : 0xCC, LinkerBreakpointInstruction());
        }

        Assert.Equal(before, LinkerBreakpointInstruction());

        // A copy under a new name is a new object for the dynamic linker, so loading it passes its breakpoint.
        var runtimeLibrary = Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), OperatingSystem.IsMacOS() ? "libSystem.Native.dylib" : "libSystem.Native.so");
        var copy = Path.Combine(Path.GetTempPath(), $"iotrace-load-{Guid.NewGuid():N}{Path.GetExtension(runtimeLibrary)}");
        File.Copy(runtimeLibrary, copy);
        try
        {
            var loaded = System.Runtime.InteropServices.NativeLibrary.Load(copy);
            Assert.NotEqual(0, loaded);
            System.Runtime.InteropServices.NativeLibrary.Free(loaded);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    /// <summary>
    /// The first byte of the function glibc's dynamic linker calls at each library load for debuggers to break on (r_debug's
    /// r_brk); null where there is no glibc r_debug (macOS).
    /// </summary>
    private static byte? LinkerBreakpointInstruction()
    {
        if (!OperatingSystem.IsLinux() || !System.Runtime.InteropServices.NativeLibrary.TryGetExport(System.Runtime.InteropServices.NativeLibrary.GetMainProgramHandle(), "_r_debug", out var debug))
        {
            return null;
        }

        // struct r_debug { int r_version; struct link_map* r_map; ElfW(Addr) r_brk; ... }
        return System.Runtime.InteropServices.Marshal.ReadByte(System.Runtime.InteropServices.Marshal.ReadIntPtr(debug, 16));
    }

    /// <summary>The one row <paramref name="which"/> matches; else fails with what dtrace wrote to stderr (it is stopped), where a key it had no room for shows as "aggregation drops".</summary>
    private static async Task<AggregateRow> SingleRow(SyscallProviderRun run, IReadOnlyList<AggregateRow> rows, Func<AggregateRow, bool> which)
    {
        var matching = rows.Where(which).ToList();
        if (matching.Count != 1)
        {
            Assert.Fail($"{matching.Count} of {rows.Count} rows matched, not 1. dtrace's stderr: {await run.ErrorsAsync()}");
        }

        return matching[0];
    }

    /// <summary>Publishes <paramref name="session"/> for this thread where there is a table, and reads <paramref name="count"/> blocks.</summary>
    private static void ReadBlocks(TraceSlotTable? table, TraceSession? session, SafeFileHandle handle, int count)
    {
        var buffer = new byte[ReadSize];
        if (OperatingSystem.IsLinux())
        {
            table?.Publish(session);
        }

        try
        {
            for (var block = 0; block < count; block++)
            {
                RandomAccess.Read(handle, buffer, block * ReadSize);
            }
        }
        finally
        {
            if (OperatingSystem.IsLinux())
            {
                table?.Publish(null);
            }
        }
    }

    /// <summary>A file of 20 blocks, open for reading, deleted at the end.</summary>
    private sealed class BlocksFile : IDisposable
    {
        private readonly string _path;

        private BlocksFile(string path)
        {
            _path = path;
            Handle = File.OpenHandle(path);
        }

        public SafeFileHandle Handle { get; }

        public int Fd => (int)Handle.DangerousGetHandle();

        public static async Task<BlocksFile> CreateAsync()
        {
            var path = Path.Combine(Path.GetTempPath(), $"iotrace-blocks-{Guid.NewGuid():N}");
            await File.WriteAllBytesAsync(path, new byte[20 * ReadSize], TestContext.Current.CancellationToken);
            return new BlocksFile(path);
        }

        public void Dispose()
        {
            Handle.Dispose();
            File.Delete(_path);
        }
    }
}
