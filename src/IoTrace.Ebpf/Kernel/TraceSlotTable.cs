using System.Globalization;
using System.Runtime.Versioning;
using IoTrace.Core;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// A table in this process's memory, one 16-byte slot per kernel thread id: {trace id, strategy bits} of the trace
/// the thread currently runs for, or zeros. Written on every change of the flow's trace (set, cleared, or an async
/// hop onto the thread) by the thread itself; read by the BPF program at each system call, without a system call.
/// Indexed by the full tid, so two threads never share a slot; the mapping reserves no memory and only the pages of
/// thread ids in use are ever touched. It lives as long as the process: bpftrace may read it at any time.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class TraceSlotTable
{
    private const int SlotBytes = 16;
    private readonly ulong* _slots;
    private readonly int _capacity;

    private TraceSlotTable(ulong* slots, int capacity)
    {
        _slots = slots;
        _capacity = capacity;
    }

    public nint Address => (nint)_slots;

    public static TraceSlotTable? TryCreate(out string reason)
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

    /// <summary>Publishes the current thread's trace (null: none). Called from the flow's AsyncLocal change handler.</summary>
    public void Publish(TraceSession? session)
    {
        var tid = LibcInterop.CurrentThreadId;
        if ((uint)tid >= (uint)_capacity)
        {
            return;
        }

        var slot = _slots + ((long)tid * 2);
        if (session is { IsActive: true, HookedInProcess: false })
        {
            // Bits before the id: the program reads the id first and finds bits that match it, or a zero id.
            slot[1] = (ulong)SyscallTable.StrategyBits(session.Strategy);
            Volatile.Write(ref slot[0], (ulong)session.Id);
        }
        else
        {
            Volatile.Write(ref slot[0], 0);
        }
    }

    /// <summary>Asks the program for a flush: a prctl option no kernel knows, seen at the probe, EINVAL and no effect.</summary>
    public static void RequestFlush() => _ = LibcInterop.Prctl((nint)BpftraceScript.FlushMarker, 0, 0, 0, 0);

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
