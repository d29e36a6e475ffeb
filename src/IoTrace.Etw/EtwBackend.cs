using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IoTrace.Backends;
using IoTrace.Backends.Attached;
using IoTrace.Etw.Attribution;
using IoTrace.Etw.Session;
using IoTrace.Etw.Translation;
using IoTrace.Symbols;
using IoTrace.Symbols.Managed;
using IoTrace.Symbols.Native;
using IoTrace.Tracing;
using Microsoft.Diagnostics.Tracing.Session;

namespace IoTrace.Etw;

/// <summary>
/// Windows, elevated: a real-time ETW session of the process (<see cref="EtwSession"/>) delivers the kernel's file
/// operations and Winsock's socket requests with their stacks, up to a flush later; the <see cref="EtwTranslator"/>
/// finds each call's trace in the <see cref="ThreadTimeline"/> the flows publish to, and charges it through the core
/// with its line from the runtime's JIT events (<see cref="ManagedCodeMap"/>). It attaches once, in the background
/// (<see cref="AttachedBackend{TAttachment, TTrace}"/>); ETW measures no CPU time per call.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed class EtwBackend : AttachedBackend<EtwAttachment, EtwTrace>
{
    public const string BackendName = IoTraceEtw.Name;

    private static readonly TimeSpan s_attachTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long a stopped trace waits for its events before its report is cut short (marked incomplete).</summary>
    private static readonly TimeSpan s_flushTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long finding a shared connection's socket waits for the events of its connect.</summary>
    private static readonly TimeSpan s_findTimeout = TimeSpan.FromSeconds(1);

    private static readonly Lock s_sharedLock = new();
    private static EtwBackend? s_shared;

    private EtwBackend(IBackendDiagnostics diagnostics)
        : base(diagnostics, s_attachTimeout)
    {
    }

    public override string Name => BackendName;

    /// <summary>No CPU time: ETW gives none per call, so reports say CPU is unavailable, never 0.</summary>
    public override BackendCapabilities Capabilities =>
        BackendCapabilities.SeesNativeLibraries | BackendCapabilities.HasStacks | BackendCapabilities.ReportsLate | BackendCapabilities.ReadsThreadTraces |
        BackendCapabilities.CountsWindowsOperations | BackendCapabilities.CountsSharedConnections;

    /// <summary>The process's instance, if it can run here: checks, starts nothing.</summary>
    internal static EtwBackend? TryCreate(out string reason)
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            reason = $"the ETW backend is built for x64, not {RuntimeInformation.ProcessArchitecture}";
            return null;
        }

        if (TraceEventSession.IsElevated() != true)
        {
            reason = "the process is not elevated, which a kernel ETW session needs: run it as administrator";
            return null;
        }

        reason = "etw: a real-time kernel event session reports the IO calls of traced threads; the in-process backend serves until it is attached";
        lock (s_sharedLock)
        {
            return s_shared ??= new EtwBackend(BackendDiagnostics.Shared);
        }
    }

    public override Task OnTraceStopped(TraceSession session)
    {
        if (!Traces.TryGetValue(session.Id, out var trace) || Attachment is not { } attachment)
        {
            return Task.CompletedTask;
        }

        trace.StopTimestamp = session.StopTimestamp;
        attachment.Session.RequestFlush();
        return trace.Flushed.Task;
    }

    public override string? DescribeFd(int fd, long generation) => Attachment?.Translator.Objects.Describe(fd);

    /// <summary>
    /// The sockets whose connect the session saw (one made before it attached has no peer to be found by). Events come
    /// late, so a connection just opened is found after a flush: the caller waits for one (tens of milliseconds, at most
    /// <see cref="s_findTimeout"/>), once per connection.
    /// </summary>
    public override IReadOnlyList<SharedConnection> FindSharedSockets(IReadOnlySet<string> peers)
    {
        if (Attachment is not { } attachment)
        {
            return [];
        }

        var now = TimeProvider.System.GetTimestamp();
        attachment.Session.RequestFlush();
        _ = attachment.Translator.WaitDelivered(now, s_findTimeout);
        return attachment.Translator.SharedSocketsTo(peers);
    }

    /// <summary>Counted by the events' time: from now on, or no longer after now (<see cref="EtwTranslator.Follow"/>).</summary>
    public override void FollowSharedConnection(SharedConnection connection, bool follow) =>
        Attachment?.Translator.Follow(connection, follow, TimeProvider.System.GetTimestamp());

    protected override EtwTrace CreateTrace(TraceSession session) => new(session);

    protected override EtwAttachment? Attach(out string reason)
    {
        if (!ManagedCodeMap.TryStart(TimeSpan.FromSeconds(10), out var map, out reason) || map is null)
        {
            reason = $"the runtime's JIT events could not be read: {reason}";
            return null;
        }

        var timeline = new ThreadTimeline(TimeProvider.System, WindowsInterop.CurrentThreadId);
        var markers = new FlushMarkers(TimeProvider.System);
        var attribution = new EtwStackAttribution(new StackAttributor(map, new PlainStackWalk(), new FileImages(WindowsInterop.Images)));
        var translator = new EtwTranslator(timeline, markers, Traces, attribution, Complete);
        if (EtwSession.TryCreate(translator, markers, out reason) is not { } session)
        {
            map.Dispose();
            return null;
        }

        session.Heartbeat += () => ExpireOverdueTraces(s_flushTimeout);
        session.Lost += what => LoseCalls($"the ETW session lost events ({what}); the reports of the traces running then are marked incomplete");
        session.Failed += r => Fail(r);
        session.EventFailed += Diagnostics.TracerFailed;
        var attachment = new EtwAttachment(session, map, ThreadTraces.Subscribe(timeline), translator);
        session.Start();
        return attachment;
    }
}
