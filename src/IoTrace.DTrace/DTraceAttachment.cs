using IoTrace.DTrace.Consumer;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;

namespace IoTrace.DTrace;

/// <summary>One attach of the dtrace backend: the dtrace process it reads, the code map, the slot table's publication.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class DTraceAttachment(DTraceOutput output, ManagedCodeMap map, TraceSlotTable slots, IDisposable publishing) : IDisposable
{
    public DTraceOutput Output { get; } = output;

    public ManagedCodeMap Map { get; } = map;

    public TraceSlotTable Slots { get; } = slots;

    public void Dispose()
    {
        publishing.Dispose();
        Output.Dispose();
        Map.Dispose();
    }
}
