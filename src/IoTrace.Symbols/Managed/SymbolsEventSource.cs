using System.Diagnostics.Tracing;

namespace IoTrace.Symbols.Managed;

/// <summary>
/// Writes the barrier markers of <see cref="ManagedCodeMap.WaitUntilCurrent"/>: the live session enables this source
/// next to the runtime's, so when the parser sees a marker, every runtime event written before it has been seen too.
/// </summary>
[EventSource(Name = ProviderName)]
internal sealed class SymbolsEventSource : EventSource
{
    public const string ProviderName = "IoTrace-Ebpf-Symbols";
    public const int MarkerEventId = 1;

    public static readonly SymbolsEventSource Log = new();

    private SymbolsEventSource()
    {
    }

    [Event(MarkerEventId, Level = EventLevel.Informational)]
    public void Marker(long sequence) => WriteEvent(MarkerEventId, sequence);
}
