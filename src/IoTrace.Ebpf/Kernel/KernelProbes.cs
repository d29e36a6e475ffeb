using IoTrace.Symbols;
using IoTrace.Symbols.Native;
using System.Diagnostics;
using System.Runtime.Versioning;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// The kernel program (<c>Bpf/iotrace.bpf.c</c>), loaded through libbpf into this process: configured before it is
/// loaded (this process's id, the slot table, the counted system calls), then attached to <c>sys_enter</c> and
/// <c>sys_exit</c>. The process controls it through its maps (unwind rules, frameless rules, stack shortcuts) and
/// its mmap'ed control block, and a thread of its own rotates the three buffers and reads the retired one
/// (<see cref="KernelMaps"/>): every 100 ms, or at once when a trace stops, but never twice within 20 ms, so a probe
/// that chose a buffer just before it retired has time to finish writing it.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class KernelProbes : IDisposable
{
    /// <summary>
    /// Entries per buffer map; a full map drops new keys, which the flush's event count reveals. A buffer holds 20 to
    /// 100 ms of keys (a few thousand under the load benchmark); reading a hash map visits every bucket.
    /// </summary>
    internal const int DefaultMapKeys = 16_384;

    /// <summary>Entries per buffer map (tests lower it to fill a map).</summary>
    internal static int MapKeys { get; set; } = DefaultMapKeys;

    /// <summary>Tests: runs on the flush thread before a buffer is read (to make the read fail, or hold it).</summary>
    internal static Action<int>? ReadingBuffer { get; set; }

    private const long IdleFlushNanoseconds = 100_000_000;
    private const long SpacingNanoseconds = 20_000_000;

    private static readonly double s_nanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    /// <summary>The control block's mapping: one page.</summary>
    private const nuint ControlMapping = 4096;

    /// <summary>The nice value of the flush thread (the app's threads run at 0).</summary>
    private const int FlushNiceness = -5;

    private readonly nint _object;
    private readonly nint[] _links;
    private readonly int[] _programs;
    private readonly KernelControl* _control;
    private readonly KernelMaps _maps;
    private readonly int _unwindRules;
    private readonly int _frameless;
    private readonly int _shortcuts;
    private readonly AutoResetEvent _wake = new(false);
    private readonly Lock _lifetime = new();
    private Thread? _thread;
    private long _misses;
    private volatile bool _disposed;
    private int _toRotate;
    private long _sequence;
    private long _rotatedAt;
    private uint _current;

    private KernelProbes(nint obj, nint[] links, int[] programs, KernelControl* control, KernelTracepoints tracepoints)
    {
        _object = obj;
        _links = links;
        _programs = programs;
        _control = control;
        Tracepoints = tracepoints;
        _maps = new KernelMaps(obj, control);
        _unwindRules = Libbpf.MapFd(Libbpf.FindMap(obj, "unwind_rules"));
        _frameless = Libbpf.MapFd(Libbpf.FindMap(obj, "frameless"));
        _shortcuts = Libbpf.MapFd(Libbpf.FindMap(obj, "shortcuts"));
        FdStates = KernelFdStates.Map(Libbpf.MapFd(Libbpf.FindMap(obj, "fds")));
        _rotatedAt = Now();
    }

    /// <summary>The program's fd states, where shared connections' sockets are marked.</summary>
    public KernelFdStates FdStates { get; }

    public KernelTracepoints Tracepoints { get; }

    /// <summary>From opening the object to both programs attached: the kernel's verifier and maps, libbpf's relocations.</summary>
    public TimeSpan AttachDuration { get; private init; }

    /// <summary>From detaching the programs to the object closed (its maps freed); zero until disposed.</summary>
    public TimeSpan DetachDuration { get; private set; }

    /// <summary>A flush was read (raised on the flush thread: handlers hand it on and return).</summary>
    public event Action<KernelFlush>? Flushed;

    /// <summary>
    /// The kernel skipped this many calls since the last flush: a program does not run while it already runs on that
    /// CPU (a probe preempted, and another thread's call on the same CPU). Raised on the flush thread.
    /// </summary>
    public event Action<long>? Lost;

    /// <summary>Reading the maps failed; raised once, with the reason, and the flush thread stops.</summary>
    public event Action<string>? Failed;

    /// <summary>
    /// The tracepoints this kernel supports: BTF-typed where it has BTF, raw otherwise; <c>IOTRACE_EBPF_TRACEPOINTS</c>
    /// (<c>raw</c> or <c>btf</c>) chooses.
    /// </summary>
    public static KernelTracepoints Choose(out string why)
    {
        switch (Environment.GetEnvironmentVariable("IOTRACE_EBPF_TRACEPOINTS")?.Trim().ToLowerInvariant())
        {
            case "raw":
                why = "raw tracepoints (IOTRACE_EBPF_TRACEPOINTS=raw; no CPU time)";
                return KernelTracepoints.Raw;
            case "btf":
                why = "BTF tracepoints (IOTRACE_EBPF_TRACEPOINTS=btf)";
                return KernelTracepoints.Btf;
        }

        if (File.Exists("/sys/kernel/btf/vmlinux"))
        {
            why = "BTF tracepoints";
            return KernelTracepoints.Btf;
        }

        why = "raw tracepoints (the kernel has no BTF, /sys/kernel/btf/vmlinux: no CPU time)";
        return KernelTracepoints.Raw;
    }

    /// <summary>Whether this build carries the kernel program (it is compiled only where clang and bpftool were found).</summary>
    public static bool IsBuilt(KernelTracepoints tracepoints) => typeof(KernelProbes).Assembly.GetManifestResourceInfo(ObjectName(tracepoints)) is not null;

    /// <summary>Loads and attaches the program; throws <see cref="InvalidOperationException"/> with the reason when it cannot.</summary>
    public static KernelProbes Attach(KernelTracepoints tracepoints, nint slotTable, LibcUnwindTable? libc)
    {
        var started = Stopwatch.GetTimestamp();
        var elf = ObjectBytes(tracepoints) ?? throw new InvalidOperationException("IoTrace.Ebpf was built without its kernel program (clang or bpftool was missing at build time)");
        var obj = Libbpf.OpenObject(elf);
        var links = new List<nint>();
        KernelControl* control = null;
        try
        {
            Configure(obj, slotTable);
            KernelMaps.Size(obj, MapKeys);
            Libbpf.Load(obj);
            // The kernel map's own memory: libbpf before 1.3 keeps its copy apart unless a skeleton remaps it.
            var controlMap = Libbpf.FindMap(obj, ".data.control");
            _ = Libbpf.InitialValue(controlMap, out var size);
            if (size != KernelProgram.ControlSize)
            {
                throw new InvalidOperationException($"the kernel program's control block is {size} bytes, not {KernelProgram.ControlSize}");
            }

            var mapped = LibcInterop.Mmap(0, ControlMapping, LibcInterop.PROT_READ | LibcInterop.PROT_WRITE, LibcInterop.MAP_SHARED, Libbpf.MapFd(controlMap), 0);
            if (mapped == -1)
            {
                throw new InvalidOperationException($"mapping the kernel program's control block failed ({System.Runtime.InteropServices.Marshal.GetLastSystemError()})");
            }

            control = (KernelControl*)mapped;
            var sites = Libbpf.MapFd(Libbpf.FindMap(obj, "libc_unwind"));
            foreach (var site in libc?.Sites ?? [])
            {
                var (ip, packed) = (site.Ip, (long)site.Packed);
                _ = Libbpf.Update(sites, &ip, &packed);
            }

            var programs = new[] { Libbpf.FindProgram(obj, "on_sys_enter"), Libbpf.FindProgram(obj, "on_sys_exit") };
            links.Add(Libbpf.Attach(programs[0]));
            links.Add(Libbpf.Attach(programs[1]));
            return new KernelProbes(obj, [.. links], [.. programs.Select(Libbpf.ProgramFd)], control, tracepoints) { AttachDuration = Stopwatch.GetElapsedTime(started) };
        }
        catch
        {
            foreach (var link in links)
            {
                Libbpf.Destroy(link);
            }

            if (control != null)
            {
                _ = LibcInterop.Munmap((nint)control, ControlMapping);
            }

            Libbpf.Close(obj);
            throw;
        }
    }

    /// <summary>Starts the flush thread.</summary>
    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "IoTrace BPF maps" };
        _thread.UnsafeStart();
    }

    /// <summary>
    /// Asks for the two rotations that flush the buffer a trace that just stopped was counted in. Only a request that
    /// finds none pending wakes the flush thread: under load traces stop thousands of times a second, and a wake-up
    /// each (a futex call, a context switch) cost more than the rest of the backend's work per request.
    /// </summary>
    public void RequestFlush()
    {
        if (Interlocked.Exchange(ref _toRotate, 2) == 0)
        {
            _wake.Set();
        }
    }

    /// <summary>Stacks beginning with the frames of <paramref name="prefixHash"/> need no deeper walk under those rules (see <see cref="Attribution.StackShortcuts"/>).</summary>
    public void Shortcut(ulong prefixHash, int rulesId)
    {
        var key = stackalloc ulong[] { prefixHash, (ulong)rulesId };
        byte one = 1;
        Update(_shortcuts, key, &one);
    }

    public void ForgetShortcut(ulong prefixHash, int rulesId)
    {
        var key = stackalloc ulong[] { prefixHash, (ulong)rulesId };
        if (!_disposed)
        {
            Libbpf.Delete(_shortcuts, key);
        }
    }

    /// <summary>How to step out of native code at return address <paramref name="ip"/> (see <see cref="Attribution.NativeUnwindRules"/>); retires every kept native path.</summary>
    public void LearnUnwind(ulong ip, long packedRule)
    {
        Update(_unwindRules, &ip, &packedRule);
        _ = Interlocked.Increment(ref _control->RulesGeneration);
    }

    /// <summary>The bloom of the frameless functions taught so far (tests).</summary>
    internal ulong FramelessBloom => Volatile.Read(ref _control->FramelessBloom);

    /// <summary>
    /// How to step through a frameless function at return address <paramref name="ip"/> (see
    /// <see cref="Attribution.FramelessFrames"/>): its rule, then its bloom bit, so a walk that sees the bit finds the
    /// rule. Every walk from then on uses it, on every thread.
    /// </summary>
    public void LearnFrameless(ulong ip, int cfaOffset)
    {
        long offset = cfaOffset;
        Update(_frameless, &ip, &offset);
        _ = Interlocked.Or(ref _control->FramelessBloom, 1UL << KernelProgram.FramelessBloomBit(ip));
    }

    public void Dispose()
    {
        lock (_lifetime)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _wake.Set();
        if (_thread is { } thread && thread != Thread.CurrentThread)
        {
            _ = thread.Join(TimeSpan.FromSeconds(10));
        }

        var started = Stopwatch.GetTimestamp();
        foreach (var link in _links)
        {
            Libbpf.Destroy(link);
        }

        _ = LibcInterop.Munmap((nint)_control, ControlMapping);
        FdStates.Dispose();
        Libbpf.Close(_object);
        DetachDuration = Stopwatch.GetElapsedTime(started);
    }

    /// <summary>
    /// Gives the calling thread a higher priority than the app's, for itself only: a thread the thread pool starts when
    /// it queues work would otherwise inherit it (the kernel resets a negative nice in the tasks created by one with
    /// SCHED_RESET_ON_FORK). Behind on a saturated CPU, flushes would queue up and the maps fill. Needs CAP_SYS_NICE.
    /// </summary>
    internal static void RaiseCurrentThreadPriority()
    {
        var task = LibcInterop.CurrentThreadId;
        _ = LibcInterop.SchedSetScheduler(task, LibcInterop.SCHED_OTHER | LibcInterop.SCHED_RESET_ON_FORK, 0);
        _ = LibcInterop.SetPriority(LibcInterop.PRIO_PROCESS, (uint)task, FlushNiceness);
    }

    private void Update(int fd, void* key, void* value)
    {
        if (!_disposed)
        {
            _ = Libbpf.Update(fd, key, value);
        }
    }

    private void Run()
    {
        RaiseCurrentThreadPriority();
        try
        {
            while (!_disposed)
            {
                var since = Now() - _rotatedAt;
                var wanted = Volatile.Read(ref _toRotate) > 0 || since >= IdleFlushNanoseconds;
                if (wanted && since >= SpacingNanoseconds)
                {
                    Rotate();
                    continue;
                }

                var wait = (wanted ? SpacingNanoseconds : IdleFlushNanoseconds) - since;
                _ = _wake.WaitOne(TimeSpan.FromTicks(Math.Max(wait / 100, 1)));
            }
        }
        catch (Exception e) when (!_disposed)
        {
            Failed?.Invoke($"reading the kernel maps failed: {e.Message}");
        }
    }

    /// <summary>Makes the next buffer current and reads the one retired at the rotation before.</summary>
    private void Rotate()
    {
        if (Volatile.Read(ref _toRotate) > 0)
        {
            _ = Interlocked.Decrement(ref _toRotate);
        }

        var covered = _rotatedAt;
        _rotatedAt = Now();
        var old = _current;
        _current = (old + 1) % KernelProgram.Buffers;
        Volatile.Write(ref _control->CurrentBuffer, _current);
        var flush = new KernelFlush(++_sequence, covered);
        lock (_lifetime)
        {
            if (_disposed)
            {
                return;
            }

            var retired = (int)((old + 2) % KernelProgram.Buffers);
            ReadingBuffer?.Invoke(retired);
            _maps.Read(retired, flush);
        }

        var misses = _programs.Sum(Libbpf.RecursionMisses);
        if (misses > _misses)
        {
            Lost?.Invoke(misses - _misses);
            _misses = misses;
        }

        Flushed?.Invoke(flush);
    }

    private static void Configure(nint obj, nint slotTable)
    {
        var config = (KernelConfig*)Libbpf.InitialValue(Libbpf.FindMap(obj, ".rodata.config"), out var size);
        if (size != KernelProgram.ConfigSize)
        {
            throw new InvalidOperationException($"the kernel program's configuration is {size} bytes, not {KernelProgram.ConfigSize}");
        }

        config->TargetTgid = (uint)Environment.ProcessId;
        config->SlotTable = (ulong)slotTable;
        config->FdStatAtPacked = (uint)SyscallTable.FdStatAtPacked;
        config->FdUtimensAtPacked = (uint)SyscallTable.FdUtimensAtPacked;
        config->FdPollPacked = (uint)SyscallTable.FdPollPacked;
        foreach (var (number, packed) in SyscallTable.X64)
        {
            config->Syscalls[number] = (uint)packed;
        }

        // A trace without context keeps no stack, save for the runtime's own calls, which these ranges find.
        var code = RuntimeCode.Of(ProcessMaps.Executable());
        if (code.Libc is [var libc, ..])
        {
            (config->LibcCode[0], config->LibcCode[1]) = libc;
        }

        for (var i = 0; i < Math.Min(code.Runtime.Count, KernelProgram.RuntimeRanges); i++)
        {
            (config->RuntimeCode[2 * i], config->RuntimeCode[(2 * i) + 1]) = code.Runtime[i];
        }
    }

    private static string ObjectName(KernelTracepoints tracepoints) => tracepoints == KernelTracepoints.Btf ? KernelProgram.BtfObject : KernelProgram.NoBtfObject;

    private static byte[]? ObjectBytes(KernelTracepoints tracepoints)
    {
        using var stream = typeof(KernelProbes).Assembly.GetManifestResourceStream(ObjectName(tracepoints));
        if (stream is null)
        {
            return null;
        }

        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>
    /// A <see cref="Stopwatch"/> timestamp on the program's clock (bpf_ktime_get_ns: CLOCK_MONOTONIC, nanoseconds), the
    /// clock Stopwatch reads on Linux: what the flushes' covered times and the traces' stop times are compared in.
    /// </summary>
    internal static long KernelNanoseconds(long stopwatchTimestamp) => (long)(stopwatchTimestamp * s_nanosecondsPerTick);

    private static long Now() => KernelNanoseconds(Stopwatch.GetTimestamp());
}
