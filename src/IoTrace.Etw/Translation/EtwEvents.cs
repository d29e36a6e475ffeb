namespace IoTrace.Etw.Translation;

/// <summary>
/// What pairs an operation's end with its start: the IRP for a file operation (<c>FileIO/OperationEnd</c> carries
/// only that); the socket's AFD endpoint and the probe for a socket request, whose completion carries no IRP (a
/// socket's requests of one kind complete in the order they were made: one is in flight at a time).
/// </summary>
internal readonly record struct RequestKey(ulong Id, int Probe)
{
    public static RequestKey Irp(ulong irp) => new(irp, -1);

    public static RequestKey Socket(ulong endpoint, int probe) => new(endpoint, probe);
}

/// <summary>
/// An IO operation started (<c>FileIO/Read</c>; an AFD request's start, <c>EnterExit</c> 0), logged on the thread
/// that issued it.
/// </summary>
/// <param name="Timestamp">When, in QPC ticks: the clock of <see cref="System.Diagnostics.Stopwatch"/>.</param>
/// <param name="ThreadId">The issuing thread (the OS thread id).</param>
/// <param name="Probe">What it does (<see cref="Probes.ProbeCatalog"/>: <c>FileIO/Read</c>, <c>AFD/Send</c>).</param>
/// <param name="Object">The kernel object it is made on, an fd of the trace's model: a FileObject, a socket's AFD endpoint.</param>
/// <param name="Request">What its end will carry.</param>
/// <param name="Target">What the event names: a create's path, a connect's peer (<c>127.0.0.1:5000</c>).</param>
internal readonly record struct OperationStarted(long Timestamp, int ThreadId, int Probe, ulong Object, RequestKey Request, string? Target = null);

/// <summary>
/// An IO operation ended (<c>FileIO/OperationEnd</c>; an AFD request's completion, <c>EnterExit</c> 1), from any
/// thread of any process: its NTSTATUS and the bytes it moved (a read's <c>ExtraInfo</c>, a send's <c>BufferLength</c>).
/// </summary>
internal readonly record struct OperationEnded(long Timestamp, RequestKey Request, int Status, long Bytes);

/// <summary>
/// Frames of the event logged at <paramref name="EventTimestamp"/> on <paramref name="ThreadId"/> (<c>StackWalk/Stack</c>),
/// innermost first: the kernel's and the user's together, or (for a kernel event) the kernel's first and the user's in
/// a second event when the thread returns to user mode.
/// </summary>
internal readonly record struct StackWalked(long EventTimestamp, int ThreadId, ulong[] Frames);
