using IoTrace.Attribution;
using IoTrace.Etw.Translation;
using IoTrace.Symbols;
using IoTrace.Tracing;

namespace IoTrace.Etw.Attribution;

/// <summary>A call's user stack -> its line, through the symbolisation the kernel-side backends share.</summary>
internal sealed class EtwStackAttribution(StackAttributor attributor) : IEtwStackResolver
{
    public SourceLocation? Resolve(TraceSession session, ulong[] stack, ref bool? waited) =>
        session.KeepsContext ? attributor.Resolve(session.Resolver, stack, ref waited) : attributor.SiteWithoutContext(stack);
}
