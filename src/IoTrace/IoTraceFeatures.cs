namespace IoTrace;

/// <summary>
/// What each aggregate measures, as in the io-trace gem: calls, bytes, time and cpu.
/// </summary>
[Flags]
public enum IoTraceFeatures
{
    /// <summary>Only calls are counted (they always are).</summary>
    None = 0,

    /// <summary>The number of calls. Always counted; free.</summary>
    Calls = 1,

    /// <summary>The bytes read and written. Free.</summary>
    Bytes = 2,

    /// <summary>The wall time inside each call: two monotonic clock reads (vDSO, about 25 ns each).</summary>
    Time = 4,

    /// <summary>
    /// The on-CPU time of the calling thread inside each call: two reads of the thread's CPU clock. Linux has no
    /// vDSO for that clock, so each read is a system call (about 0.25 us on the reference machine, 0.55 us per traced
    /// call in all; see docs/performance.md). Not measured unless asked for.
    /// </summary>
    Cpu = 8,

    /// <summary>
    /// The time each call waited off CPU (blocked on a disk, a peer, a lock in the kernel): its wall time minus its
    /// on-CPU time. Implies <see cref="Time"/> and <see cref="Cpu"/>, and costs what they cost.
    /// A backend that cannot measure CPU time cannot tell it either: the report then leaves both out.
    /// </summary>
    Wait = 16,

    /// <summary>Calls, bytes, time, cpu and wait.</summary>
    All = Calls | Bytes | Time | Cpu | Wait,
}
