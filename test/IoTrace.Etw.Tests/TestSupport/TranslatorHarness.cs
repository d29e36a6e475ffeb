using System.Collections.Concurrent;
using IoTrace.Attribution;
using IoTrace.Backends;
using IoTrace.Etw.Translation;
using IoTrace.Probes;
using IoTrace.Tests.Shared;
using IoTrace.Tracing;
using Microsoft.Extensions.Time.Testing;

namespace IoTrace.Etw.Tests.TestSupport;

/// <summary>
/// A translator over a fake clock and fake thread ids, with the traces it records and completes: tests publish traces
/// on threads and feed events as the session would deliver them. A stack's first frame is its line (<see cref="Line"/>).
/// </summary>
internal sealed class TranslatorHarness
{
    public const int MarkerThread = 999;

    private readonly FakeBackend _backend = new("etw", reportsLate: true, BackendCapabilities.CountsWindowsOperations | BackendCapabilities.CountsSharedConnections);

    public TranslatorHarness()
    {
        Timeline = new ThreadTimeline(Time, () => CurrentThread);
        Markers = new FlushMarkers(Time) { ThreadId = MarkerThread };
        Translator = new EtwTranslator(Timeline, Markers, Traces, new LineStacks(), trace =>
        {
            Traces.TryRemove(trace.Session.Id, out _);
            Completed.Add(trace.Session.Id);
        });

        // As the backend does: a trace's first use of a shared connection, and its last user's stop, at the clock's now.
        _backend.OnFollow = (connection, follow) => Translator.Follow(connection, follow, Now);
    }

    public FakeTimeProvider Time { get; } = new();

    public int CurrentThread { get; set; } = 1;

    public ThreadTimeline Timeline { get; }

    public FlushMarkers Markers { get; }

    public ConcurrentDictionary<long, EtwTrace> Traces { get; } = new();

    public List<long> Completed { get; } = [];

    public EtwTranslator Translator { get; }

    /// <summary>The fake clock now, in its ticks (the events' QPC).</summary>
    public long Now => Time.GetTimestamp();

    /// <summary>The application line a stack whose first user frame is <paramref name="frame"/> stands for.</summary>
    public static SourceLocation Line(ulong frame) => new("C:\\app\\Program.cs", (int)frame, "Main", isApplication: true);

    /// <summary>Starts a trace the backend records and publishes it on <paramref name="thread"/> now.</summary>
    public EtwTrace StartTrace(int thread, Strategy strategy = Strategy.All)
    {
        var trace = new EtwTrace(_backend.Session(strategy));
        Traces[trace.Session.Id] = trace;
        OnThread(thread, trace.Session);
        return trace;
    }

    /// <summary>Publishes what <paramref name="thread"/> runs from now on, and moves the clock on.</summary>
    public void OnThread(int thread, TraceSession? session)
    {
        CurrentThread = thread;
        Timeline.Publish(session);
        Tick();
    }

    /// <summary>Stops the trace now, as the backend's stop does; it completes at the first delivery past it.</summary>
    public void Stop(EtwTrace trace)
    {
        trace.StopTimestamp = Now;
        Tick();
    }

    /// <summary>The report, once completed.</summary>
    public static IoTraceReport Report(EtwTrace trace) => trace.Session.Stop();

    public long Tick()
    {
        Time.Advance(TimeSpan.FromTicks(10));
        return Now;
    }

    /// <summary>A start at the clock's now on <paramref name="thread"/>, its stack at line <paramref name="line"/>; the clock moves on.</summary>
    public long Start(int thread, string probe, ulong fileObject, ulong irp, string? target = null, ulong line = 0)
    {
        var at = Now;
        Translator.OnStarted(new OperationStarted(at, thread, ProbeCatalog.IndexOf(probe), fileObject, RequestKey.Irp(irp), target));
        if (line != 0)
        {
            Translator.OnStack(new StackWalked(at, thread, [0xFFFF_F800_0000_1000, line]));
        }

        Tick();
        return at;
    }

    /// <summary>The end of IRP <paramref name="irp"/> at the clock's now; the clock moves on.</summary>
    public long End(ulong irp, long bytes = 0, int status = 0)
    {
        var at = Now;
        Translator.OnEnded(new OperationEnded(at, RequestKey.Irp(irp), status, bytes));
        Tick();
        return at;
    }

    /// <summary>Every event so far has been read: the marker of a flush made now.</summary>
    public void Deliver()
    {
        Markers.BeforeFlush();
        Tick();
        Translator.OnStarted(new OperationStarted(Now, MarkerThread, ProbeCatalog.IndexOf("FileIO/Create"), 0xBEEF, RequestKey.Irp(0xBEEF), "marker"));
        Tick();
    }

    private sealed class LineStacks : IEtwStackResolver
    {
        public SourceLocation? Resolve(TraceSession session, ulong[] stack, ref bool? waited) => Line(stack[0]);
    }
}
