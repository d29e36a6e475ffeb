using IoTrace.Attribution;
using IoTrace.Tracing;

namespace IoTrace.Etw.Translation;

/// <summary>The line a call's user stack stands for in a trace (the shared symbolisation, or a test's fake).</summary>
internal interface IEtwStackResolver
{
    /// <summary>
    /// The site of the call whose user frames (innermost first) are <paramref name="stack"/>, interned: one array per
    /// distinct stack. <paramref name="waited"/> is shared by the calls of one delivery (a wait for the JIT's events
    /// covers them all).
    /// </summary>
    SourceLocation? Resolve(TraceSession session, ulong[] stack, ref bool? waited);
}
