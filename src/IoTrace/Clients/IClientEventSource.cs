using IoTrace.Tracing;

namespace IoTrace.Clients;

/// <summary>
/// A client library's own record of what a trace asked of it, where the library does the system calls on threads of
/// its own, outside the trace's flow (StackExchange.Redis's multiplexed connection): the trace asks it, when it stops,
/// to charge those requests as library calls on the lines that made them. Registered by the library's integration
/// package (<see cref="ClientEventSources.Add"/>); the core has none.
/// </summary>
internal interface IClientEventSource
{
    /// <summary>Charges what <paramref name="trace"/> asked of the client and the client has finished, then forgets it.</summary>
    void ChargeTo(TraceSession trace);
}
