using IoTrace.Tracing;

namespace IoTrace.Etw.Translation;

/// <summary>An operation read from its start event, waiting for its end, its stack and its charge.</summary>
internal sealed class PendingCall(OperationStarted start, EtwTrace? trace)
{
    public OperationStarted Start { get; } = start;

    /// <summary>The trace whose thread issued it; null for an open outside traces, followed only for its fd's life and name.</summary>
    public EtwTrace? Trace { get; } = trace;

    public OperationEnded? End { get; set; }

    /// <summary>Its user frames, interned; null until its stack event is read, or if the kernel walked none.</summary>
    public ulong[]? Stack { get; set; }

    public int Fd { get; set; } = -1;

    public long Generation { get; set; }

    /// <summary>The shared connection whose socket it used outside traces (<see cref="EtwTranslator.Follow"/>), counted there at its end; else null.</summary>
    public SharedConnection? Shared { get; init; }
}
