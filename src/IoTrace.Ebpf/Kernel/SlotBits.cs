using IoTrace.Tracing;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// The second word of a traced thread's slot in <see cref="Symbols.TraceSlotTable"/>, as the kernel program reads it:
/// the strategy's system call bits, the trace's rules id and, with context, the line the thread's calls without an
/// application frame inherit (written by the thread whenever its flow's trace or that line changes).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class SlotBits
{
    public static ulong Of(TraceSession session) =>
        (uint)SyscallTable.StrategyBits(session.Strategy, session.MeasuresCpu) | RulesBits(session.Resolver.Id)
        | Symbols.TraceSlotTable.InheritedSiteBits(session);

    /// <summary>The slot bits of a resolver's id; ids past 255 (a process that keeps making rule sets) take no shortcut.</summary>
    public static ulong RulesBits(int rulesId) => rulesId is > 0 and <= SyscallTable.MaxRulesId ? (ulong)rulesId << SyscallTable.RulesShift : 0;
}
