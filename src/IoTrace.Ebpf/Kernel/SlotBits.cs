using IoTrace.Tracing;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// The second word of a traced thread's slot in <see cref="Symbols.TraceSlotTable"/>, as the kernel program reads it:
/// the strategy's system call bits, the trace's rules id, and the frameless bloom.
/// </summary>
internal static class SlotBits
{
    private static ulong s_framelessBloom;

    public static ulong Of(TraceSession session) =>
        (uint)SyscallTable.StrategyBits(session.Strategy, session.MeasuresCpu) | RulesBits(session.Resolver.Id)
        | (Volatile.Read(ref s_framelessBloom) << KernelProgram.FramelessBloomShift);

    /// <summary>
    /// Marks <paramref name="bit"/> in the frameless bloom every thread publishes from now on: the walk of a thread
    /// whose slot has it looks up the frameless rules of return addresses with that bit.
    /// </summary>
    public static void AddFramelessBit(int bit) => Interlocked.Or(ref s_framelessBloom, 1UL << bit);

    /// <summary>The slot bits of a resolver's id; ids past 255 (a process that keeps making rule sets) take no shortcut.</summary>
    public static ulong RulesBits(int rulesId) => rulesId is > 0 and <= SyscallTable.MaxRulesId ? (ulong)rulesId << SyscallTable.RulesShift : 0;
}
