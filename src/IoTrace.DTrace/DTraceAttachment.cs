using IoTrace.DTrace.Attribution;
using IoTrace.DTrace.Consumer;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;

namespace IoTrace.DTrace;

/// <summary>One attach of the dtrace backend: the dtrace process, the code map, the slot table's publication, the charger.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class DTraceAttachment(DTraceProcess process, ManagedCodeMap map, TraceSlotTable slots, IDisposable publishing, FlushCharger charger) : IDisposable
{
    public DTraceProcess Process { get; } = process;

    public ManagedCodeMap Map { get; } = map;

    public TraceSlotTable Slots { get; } = slots;

    public FlushCharger Charger { get; } = charger;

    public void Dispose()
    {
        publishing.Dispose();
        Process.Dispose();
        Map.Dispose();
    }
}
