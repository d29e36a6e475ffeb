using System.Globalization;
using System.Runtime.Versioning;
using IoTrace.Attribution;
using IoTrace.Tracing;
using IoTrace.Platform.Linux;

namespace IoTrace.Symbols;

/// <summary>
/// A table in this process's memory, one 16-byte slot per kernel thread id: {trace id, strategy bits} of the trace
/// the thread currently runs for, or zeros. Written on every change of the flow's trace (set, cleared, or an async
/// hop onto the thread) by the thread itself; read by a kernel-side backend at each system call, without a system call
/// (the eBPF program, the dtrace script with copyin). The second word says how (<see cref="SlotBits"/>).
/// Indexed by the full tid, so two threads never share a slot; the mapping reserves no memory and only the pages of
/// thread ids in use are ever touched. It lives as long as the process: the kernel program may read it at any time.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class TraceSlotTable : IThreadTracePublisher
{
    private const int SlotBytes = 16;
    private const int SlotsPerPage = 4096 / SlotBytes;
    private static readonly Lock s_lock = new();
    private static TraceSlotTable? s_shared;

    private readonly ulong* _slots;
    private readonly int _capacity;
    private readonly HashSet<int> _mappedPages = [];
    private long _lastMappedTimestamp;

    private TraceSlotTable(ulong* slots, int capacity)
    {
        _slots = slots;
        _capacity = capacity;
    }

    public nint Address => (nint)_slots;

    /// <summary>The process's table, mapped on first use and kept: the program of any attach may read it.</summary>
    public static TraceSlotTable? Shared(out string reason)
    {
        lock (s_lock)
        {
            reason = string.Empty;
            return s_shared ??= TryCreate(out reason);
        }
    }

    /// <summary>
    /// The first word of a thread doing the tracer's own work (<see cref="PublishTracersOwn"/>): no trace, and a kernel
    /// backend charges none of its calls, not even one on an fd a trace waits for (its owner).
    /// </summary>
    public const ulong TracersOwn = ulong.MaxValue;

    /// <summary>
    /// The second word's bit that every reader may test: the trace keeps each call's fd and stack (not Summary). The
    /// eBPF program's own bits use it with this meaning (its <c>SyscallTable.Context</c>).
    /// </summary>
    public const ulong ContextBit = 8;

    /// <summary>
    /// Where the second word holds, with context, the number of the line the thread's calls without an application frame
    /// inherit (<see cref="InheritedSiteBits"/>): bits 40 to 63, for every reader of the table.
    /// </summary>
    public const int InheritedSiteShift = 40;

    /// <summary>
    /// The second word of a traced thread's slot (the eBPF program's strategy, rules and frameless bits, with
    /// <see cref="ContextBit"/> and <see cref="InheritedSiteBits"/>), or null: <see cref="ContextBit"/> and the inherited
    /// line where the trace keeps context. Set by the backend that reads it, before its first trace.
    /// </summary>
    public static Func<TraceSession, ulong>? SlotBits { get; set; }

    /// <summary>
    /// The bits of the line the current thread's calls without an application frame inherit now (its work item's, its
    /// flow's: <see cref="ThreadPoolCallSites.InheritedSiteId"/>); none without context.
    /// </summary>
    public static ulong InheritedSiteBits(TraceSession session) =>
        session.KeepsContext ? (ulong)ThreadPoolCallSites.InheritedSiteId(session) << InheritedSiteShift : 0;

    /// <summary>
    /// Maps the pages of the process's current threads' slots (read-only, as the zero page). A kernel backend reads the slot
    /// of every thread at every IO call; on a page never touched, that read faults each time, which cost about
    /// 1.5 us per call. Reading changes nothing, so it never races with a thread publishing its own slot.
    /// Runs at attach and then at most every 100 ms (threads come and go).
    /// </summary>
    public void MapThreadPages()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_lastMappedTimestamp != 0 && System.Diagnostics.Stopwatch.GetElapsedTime(_lastMappedTimestamp, now) < TimeSpan.FromMilliseconds(100))
        {
            return;
        }

        _lastMappedTimestamp = now;
        try
        {
            foreach (var directory in Directory.EnumerateDirectories("/proc/self/task"))
            {
                if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var tid)
                    && (uint)tid < (uint)_capacity && _mappedPages.Add(tid / SlotsPerPage))
                {
                    _ = Volatile.Read(ref _slots[(long)tid * 2]);
                }
            }
        }
        catch (IOException)
        {
        }
    }

    private static TraceSlotTable? TryCreate(out string reason)
    {
        var capacity = PidMax();
        var address = LibcInterop.Mmap(0, (nuint)capacity * SlotBytes, LibcInterop.PROT_READ | LibcInterop.PROT_WRITE,
            LibcInterop.MAP_PRIVATE | LibcInterop.MAP_ANONYMOUS | LibcInterop.MAP_NORESERVE, -1, 0);
        if (address == -1 || address == 0)
        {
            reason = $"could not map the {capacity}-slot trace table";
            return null;
        }

        reason = string.Empty;
        return new TraceSlotTable((ulong*)address, capacity);
    }

    /// <summary>Publishes the current thread's trace (null: none). Called from the flow's AsyncLocal change handler (<see cref="ThreadTraces"/>).</summary>
    public void Publish(TraceSession? session)
    {
        var tid = LibcInterop.CurrentThreadId;
        if ((uint)tid >= (uint)_capacity)
        {
            return;
        }

        var slot = _slots + ((long)tid * 2);
        if (session is { IsActive: true })
        {
            // Bits before the id: the program reads the id first and finds bits that match it, or a zero id.
            slot[1] = SlotBits?.Invoke(session) ?? (session.KeepsContext ? ContextBit | InheritedSiteBits(session) : 0);
            Volatile.Write(ref slot[0], (ulong)session.Id);
        }
        else
        {
            Volatile.Write(ref slot[0], 0);
        }
    }

    /// <summary>Marks the current thread's calls as the tracer's own (<see cref="ThreadTraces.Hide"/>) until it publishes again.</summary>
    public void PublishTracersOwn()
    {
        var tid = LibcInterop.CurrentThreadId;
        if ((uint)tid < (uint)_capacity)
        {
            Volatile.Write(ref _slots[((long)tid * 2)], TracersOwn);
        }
    }

    private static int PidMax()
    {
        try
        {
            var text = File.ReadAllText("/proc/sys/kernel/pid_max").Trim();
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var max) && max > 0 ? max : 4_194_304;
        }
        catch (IOException)
        {
            return 4_194_304;
        }
        catch (UnauthorizedAccessException)
        {
            return 4_194_304;
        }
    }
}
