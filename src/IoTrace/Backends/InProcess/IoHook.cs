using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IoTrace.Attribution;
using IoTrace.Tracing;
using IoTrace.Platform.Linux;
using IoTrace.Probes;

namespace IoTrace.Backends.InProcess;

/// <summary>
/// The managed entry point every trampoline forwards to: times the original call and hands what it saw to the trace
/// of the calling flow (or to the trace waiting on the fd). It must never throw into native code.
/// </summary>
[SupportedOSPlatform("linux")]
internal static unsafe class IoHook
{
    // Fewer frames than this means the frame-pointer walk broke early and the key cannot tell call sites apart.
    private const int MinimumKeyFrames = 4;

    private static NativeShim? s_shim;
    private static IIoTraceBackend? s_backend;
    private static IBackendDiagnostics? s_diagnostics;

    public static void Initialize(NativeShim shim, IIoTraceBackend backend, IBackendDiagnostics diagnostics)
    {
        s_shim = shim;
        s_backend = backend;
        s_diagnostics = diagnostics;
    }

    public static delegate* unmanaged<NativeShim.Slot*, nint, nint, nint, nint, nint, nint, nint> EntryPoint => &OnCall;

    [UnmanagedCallersOnly]
    private static nint OnCall(NativeShim.Slot* slot, nint a0, nint a1, nint a2, nint a3, nint a4, nint a5)
    {
        var original = (delegate* unmanaged<nint, nint, nint, nint, nint, nint, nint>)slot->Original;

        // The tracer's own IO (PDB reads for stack traces, target lookups) is never traced.
        if (TracerThread.IsBusy)
        {
            return original(a0, a1, a2, a3, a4, a5);
        }

        TraceSession? session = null;
        SourceLocation? inheritedSite = null;
        FdOwners.Owner? waitedFor = null;
        var function = LibcIoFunction.All[slot->Symbol];
        var callFd = FdOf(function.Layout, a0, a1);

        // Read before the owner: an EAGAIN makes the trace the fd's owner only if no close came in between. Also the
        // generation of the fd's life this call is made on.
        var closesBefore = callFd >= 0 ? FdOwners.Closes(callFd) : 0;
        try
        {
            if (callFd >= 0 && function.Probe == ClosedProbe)
            {
                // Before the call, in every flow: once the kernel frees the number another thread can reuse it at
                // once, and its calls must not find this fd's owner (a file write was charged to a request's socket).
                FdOwners.Clear(callFd);
                SharedConnections.Forget(callFd);
            }

            session = TraceContext.Current;
            if (session is null || !session.IsActive || !ReferenceEquals(session.Recorder, s_backend))
            {
                session = null;
                if (callFd >= 0 && function.Probe != ClosedProbe && FdOwners.Get(callFd) is { } owner)
                {
                    session = owner.Session;
                    inheritedSite = owner.Site;
                    waitedFor = owner;
                }
            }
        }
        catch (Exception e)
        {
            ReportFailure(e);
        }

        if (session is null)
        {
            return callFd >= 0 && SharedConnections.Get(callFd) is { InUse: true } shared
                ? CountShared(shared, function, original, a0, a1, a2, a3, a4, a5)
                : original(a0, a1, a2, a3, a4, a5);
        }

        var recorded = session.Records(function.Probe);
        if ((!recorded && !session.KeepsContext)
            || (function.Layout == ArgumentLayout.ReadDir && (a0 == 0 || !DirStream.IsKnown || !DirStream.WillRead(a0))))
        {
            // A readdir that returns an entry its buffer holds makes no system call.
            return original(a0, a1, a2, a3, a4, a5);
        }

        if (function.Layout == ArgumentLayout.ReadDir)
        {
            // Only for a traced readdir that will read (it runs once per entry, in every flow): its fd and that fd's life.
            callFd = LibcInterop.DirFd(a0);
            closesBefore = FdOwners.Closes(callFd);
        }

        var busy = TracerThread.Enter();
        var shim = s_shim!;

        // CPU inside wall: a call's CPU time never exceeds its wall time.
        var measuresTime = session.MeasuresTime;
        var measuresCpu = session.MeasuresCpu;
        var before = measuresTime ? Stopwatch.GetTimestamp() : 0;
        var cpuBefore = measuresCpu ? shim.ThreadCpuNanoseconds() : 0;
        var result = original(a0, a1, a2, a3, a4, a5);
        var errno = Marshal.GetLastSystemError();
        var cpuAfter = measuresCpu ? shim.ThreadCpuNanoseconds() : 0;
        var after = measuresTime ? Stopwatch.GetTimestamp() : 0;
        try
        {
            // A probe the strategy does not record still keeps the fd's life and the flow's line current.
            Record(session, inheritedSite, slot->FramePointers != 0, function, result, errno, callFd, a0, a1, a2, after - before, cpuAfter - cpuBefore, closesBefore);

            // The retry the owner waited for: once it moves bytes (or fails otherwise), the wait is over.
            if (waitedFor is not null && function.Kind != ProbeKind.Setup && !(result == -1 && errno == LibcInterop.EAGAIN))
            {
                FdOwners.Consume(callFd, waitedFor);
            }
        }
        catch (Exception e)
        {
            ReportFailure(e);
        }

        busy.Dispose();
        Marshal.SetLastSystemError(errno);
        return result;
    }

    /// <summary>A call outside every trace on a shared connection's socket: counted for the traces that use the connection.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint CountShared(SharedConnection shared, LibcIoFunction function, delegate* unmanaged<nint, nint, nint, nint, nint, nint, nint> original, nint a0, nint a1, nint a2, nint a3, nint a4, nint a5)
    {
        var before = Stopwatch.GetTimestamp();
        var result = original(a0, a1, a2, a3, a4, a5);
        var errno = Marshal.GetLastSystemError();
        var after = Stopwatch.GetTimestamp();
        var returned = function.ReturnsSize ? (long)result : (int)result;
        shared.Count(function.Probe, 1, function.ReturnsSize && returned > 0 ? returned : 0, after - before);
        Marshal.SetLastSystemError(errno);
        return result;
    }

    private static readonly int ClosedProbe = ProbeCatalog.IndexOf("close");
    private static readonly int ConnectProbe = ProbeCatalog.IndexOf("connect");
    private static readonly int s_newFstatAt = ProbeCatalog.IndexOf("newfstatat");

    private static void Record(TraceSession session, SourceLocation? inheritedSite, bool framePointers, LibcIoFunction function, nint rawResult, int errno, int fd, nint a0, nint a1, nint a2, long ticks, long cpu, int closesBefore)
    {
        // int-returning functions leave the upper half of the register undefined. A directory stream's calls return
        // what the system calls inside them did: opendir 0 or -1, readdir the bytes getdents64 read.
        long result = function.Layout switch
        {
            ArgumentLayout.OpenDir => rawResult != 0 ? 0 : -1,
            ArgumentLayout.ReadDir => rawResult != 0 ? DirStream.LastRead(a0) : 0,
            _ => function.ReturnsSize ? rawResult : (int)rawResult,
        };
        var bytes = function.ReturnsSize && result > 0 ? result : 0;
        // glibc's opendir stats what it opened; another libc's may not, and its DIR is not known.
        var openedDirectory = function.Layout == ArgumentLayout.OpenDir && rawResult != 0 && DirStream.Check(rawResult);

        // A socket read that must be retried later, or a connect that completes later (the runtime's socket thread polls
        // it and reads its error), belongs to this trace, whichever thread finishes it.
        var waits = result == -1 && fd >= 0
            && ((errno == LibcInterop.EAGAIN && function.Kind != ProbeKind.Setup) || (errno == LibcInterop.EINPROGRESS && function.Probe == ConnectProbe));
        if (!session.KeepsContext)
        {
            if (waits)
            {
                FdOwners.Set(fd, session, SourceLocation.Unknown, closesBefore);
            }

            session.Charge(IoCall.Counted(function.Probe, 1, bytes, ticks, cpu));
            if (openedDirectory)
            {
                session.Charge(IoCall.Counted(s_newFstatAt, 1, 0, 0, 0));
            }

            return;
        }

        var target = function.Layout switch
        {
            ArgumentLayout.PathArg0 or ArgumentLayout.OpenDir => Marshal.PtrToStringUTF8(a0),
            ArgumentLayout.PathArg1 => Marshal.PtrToStringUTF8(a1),
            ArgumentLayout.PathArg2 => Marshal.PtrToStringUTF8(a2),
            ArgumentLayout.Connect => FdTargets.FormatSocketAddress(a1, (int)a2),
            ArgumentLayout.AddressArg0 => FdTargets.FormatHostAddress(a0, (int)a1),
            ArgumentLayout.Accept when result >= 0 && a1 != 0 && a2 != 0 => FdTargets.FormatSocketAddress(a1, *(int*)a2),
            _ => null,
        };

        // An fd the call opens is its result, in the life that starts with it (its number's closes so far).
        var generation = (long)closesBefore;
        if (function.OpensFd)
        {
            fd = function.Layout != ArgumentLayout.OpenDir ? (int)result : rawResult != 0 ? LibcInterop.DirFd(rawResult) : -1;
            generation = fd >= 0 ? FdOwners.Closes(fd) : 0;
        }

        var site = inheritedSite ?? ResolveCallSite(session, framePointers);
        if (!site.IsApplication && SharedConnections.Get(fd) is { } shared)
        {
            // A shared connection's own code in a request's flow (a multiplexed connection's loops run in the flow of
            // the request that opened it): not that request's call, but the connection's.
            if (shared.InUse)
            {
                shared.Count(function.Probe, 1, bytes, ticks);
            }

            site = SourceLocation.SharedConnection;
        }

        if (waits)
        {
            FdOwners.Set(fd, session, site, closesBefore);
        }

        // Only EBADF says the fd is not open: then /proc/self/fd could name whatever reuses the number. A call that
        // failed otherwise (EAGAIN, EINTR, ECONNRESET) still names it.
        session.Charge(new IoCall(function.Probe, fd, generation, target, site, 1, bytes, ticks, cpu, FdMayBeOpen: result >= 0 || errno != LibcInterop.EBADF));
        if (openedDirectory)
        {
            // opendir's fstat of what it opened (newfstatat with AT_EMPTY_PATH), inside the time charged to its open.
            session.Charge(new IoCall(s_newFstatAt, fd, generation, null, site, 1, 0, 0, 0));
        }
    }

    /// <summary>The line on the stack (a frame-pointer walk, keyed), or the one the flow inherited.</summary>
    private static SourceLocation ResolveCallSite(TraceSession session, bool framePointers)
    {
        int frames;
        var resolved = framePointers && s_shim!.CallSiteKey(&frames) is var key && frames >= MinimumKeyFrames
            ? session.Resolver.Resolve(key)
            // Native code built without frame pointers (SQLite, say) breaks the cheap walk: let the runtime walk the
            // managed frames instead, which costs a few microseconds more per call.
            : session.Resolver.ResolveManaged();
        return TraceContext.SiteInFlow(resolved, session);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FdOf(ArgumentLayout layout, nint a0, nint a1) => layout switch
    {
        ArgumentLayout.FdArg0 or ArgumentLayout.Connect or ArgumentLayout.Accept => (int)a0,
        ArgumentLayout.FdArg1 => (int)a1,
        ArgumentLayout.Poll when a1 == 1 && a0 != 0 => *(int*)a0,
        ArgumentLayout.CloseDir when a0 != 0 => LibcInterop.DirFd(a0),
        _ => -1,
    };

    private static void ReportFailure(Exception e)
    {
        try
        {
            s_diagnostics?.TracerFailed(e);
        }
        catch (Exception)
        {
            // Nothing can be reported from here; the traced call must go on.
        }
    }
}
