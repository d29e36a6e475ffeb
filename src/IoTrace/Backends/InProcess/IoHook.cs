using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IoTrace.Core;

namespace IoTrace.Backends.InProcess;

/// <summary>
/// The managed entry point every trampoline forwards to: times the original call and charges it to the
/// trace of the calling flow (or to the trace waiting on the fd). It must never throw into native code.
/// </summary>
[SupportedOSPlatform("linux")]
internal static unsafe class IoHook
{
    // Fewer frames than this means the frame-pointer walk broke early and the key cannot tell call sites apart.
    private const int MinimumKeyFrames = 4;

    private static NativeShim? s_shim;
    private static Action<Exception>? s_onFailure;

    public static void Initialize(NativeShim shim, Action<Exception> onFailure)
    {
        s_shim = shim;
        s_onFailure = onFailure;
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
        var import = ImportedFunction.All[slot->Symbol];
        var callFd = FdOf(import.Layout, a0, a1);

        // Read before the owner: an EAGAIN makes the trace the fd's owner only if no close came in between.
        var closesBefore = callFd >= 0 ? FdOwners.Closes(callFd) : 0;
        try
        {
            if (callFd >= 0 && import.Probe == ClosedProbe)
            {
                // Before the call, in every flow: once the kernel frees the number another thread can reuse it at
                // once, and its calls must not find this fd's owner (a file write was charged to a request's socket).
                FdOwners.Clear(callFd);
            }

            session = TraceContext.Current;
            if (session is null || !session.IsActive || !session.HookedInProcess)
            {
                session = null;
                if (callFd >= 0 && import.Probe != ClosedProbe && FdOwners.Get(callFd) is { } owner)
                {
                    session = owner.Session;
                    inheritedSite = owner.Site;
                }
            }
        }
        catch (Exception e)
        {
            ReportFailure(e);
        }

        if (session is null)
        {
            return original(a0, a1, a2, a3, a4, a5);
        }

        var recorded = session.Records(import.Probe);
        if (!recorded && !session.KeepsContext)
        {
            return original(a0, a1, a2, a3, a4, a5);
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
            // A probe the strategy does not record still keeps the fd table and the flow's line current.
            Record(session, recorded, inheritedSite, slot->FramePointers != 0, import, result, errno, a0, a1, a2, after - before, cpuAfter - cpuBefore, closesBefore);
        }
        catch (Exception e)
        {
            ReportFailure(e);
        }

        busy.Dispose();
        Marshal.SetLastSystemError(errno);
        return result;
    }

    private static readonly int ClosedProbe = Probes.IndexOf("close");

    private const int EBADF = 9;

    private static void Record(TraceSession session, bool recorded, SourceLocation? inheritedSite, bool framePointers, ImportedFunction import, nint rawResult, int errno, nint a0, nint a1, nint a2, long ticks, long cpu, int closesBefore)
    {
        // int-returning functions leave the upper half of the register undefined.
        long result = import.ReturnsSize ? rawResult : (int)rawResult;
        var bytes = import.ReturnsSize && result > 0 ? result : 0;
        if (!session.KeepsContext)
        {
            // No stack, fd or target context; but a socket read that must be retried later still belongs here.
            var waitingFd = FdOf(import.Layout, a0, a1);
            if (result == -1 && errno == LibcInterop.EAGAIN && waitingFd >= 0 && import.Kind != ProbeKind.Setup)
            {
                FdOwners.Set(waitingFd, session, SourceLocation.Unknown, closesBefore);
            }

            session.Record(import.Probe, null, -1, null, bytes, ticks, cpu);
            return;
        }

        var fd = FdOf(import.Layout, a0, a1);
        string? target = null;
        var opensFd = false;
        switch (import.Layout)
        {
            case ArgumentLayout.OpenPathArg0 or ArgumentLayout.OpenPathArg1:
                target = Marshal.PtrToStringUTF8(import.Layout == ArgumentLayout.OpenPathArg0 ? a0 : a1);
                fd = (int)result;
                opensFd = true;
                break;
            case ArgumentLayout.PathArg0:
                target = Marshal.PtrToStringUTF8(a0);
                break;
            case ArgumentLayout.PathArg1:
                target = Marshal.PtrToStringUTF8(a1);
                break;
            case ArgumentLayout.PathArg2:
                target = Marshal.PtrToStringUTF8(a2);
                break;
            case ArgumentLayout.ResultFd:
                fd = (int)result;
                opensFd = true;
                break;
            case ArgumentLayout.Connect:
                target = FdTargets.FormatSocketAddress(a1, (int)a2);
                opensFd = true;
                break;
            case ArgumentLayout.Accept:
                fd = (int)result;
                target = a1 != 0 && a2 != 0 ? FdTargets.FormatSocketAddress(a1, *(int*)a2) : null;
                opensFd = true;
                break;
        }

        var known = fd >= 0 ? session.Fd(fd) : null;
        var site = inheritedSite ?? ResolveCallSite(session, framePointers, known);

        // Calls on an fd report the target its life in this trace ends with, as the kernel backend's do: a socket's
        // options set before its connect report the peer, not the unconnected socket:[inode] they saw.
        TraceSession.FdInfo? life = null;
        if (opensFd)
        {
            life = import.Layout == ArgumentLayout.Connect ? session.NameFd(fd, target, site) : session.OpenFd(fd, target, site);
        }
        else if (fd >= 0 && target is null && recorded)
        {
            life = known;

            // A call that failed on an open fd (EAGAIN, EINTR, ECONNRESET) still names it: otherwise an EAGAIN storm
            // or an interrupted recv before the first successful call lands in a row of its own without a target.
            // Only EBADF says the fd is not open, and then /proc/self/fd could name whatever reuses the number.
            if (life?.Target is null && (result >= 0 || errno != EBADF))
            {
                life = session.NameFd(fd, FdTargets.Resolve(fd), openedAt: null);
            }
        }

        if (import.Probe == ClosedProbe && fd >= 0)
        {
            // Its owner went before the call (see OnCall); clearing it again now could drop a new owner of the reused number.
            session.ForgetFd(fd);
        }
        else if (result == -1 && errno == LibcInterop.EAGAIN && fd >= 0 && import.Kind != ProbeKind.Setup)
        {
            FdOwners.Set(fd, session, site, closesBefore);
        }

        if (recorded)
        {
            session.Record(import.Probe, site, fd, target, bytes, ticks, cpu, life);
        }
    }

    /// <summary>
    /// The application line on the stack; without one (a runtime thread finishing async IO), the line the
    /// enclosing framework async method was called from, else the line that opened the fd.
    /// </summary>
    private static SourceLocation ResolveCallSite(TraceSession session, bool framePointers, TraceSession.FdInfo? fd)
    {
        ResolvedCallSite resolved;
        int frames;
        if (framePointers && s_shim!.CallSiteKey(&frames) is var key && frames >= MinimumKeyFrames)
        {
            resolved = session.Resolver.Resolve(key);
        }
        else
        {
            // Native code built without frame pointers (SQLite, say) breaks the cheap walk: let the runtime
            // walk the managed frames instead, which costs a few microseconds more per call.
            resolved = session.Resolver.ResolveManaged();
        }

        var site = resolved.Site;
        if (site.IsApplication)
        {
            // Set inside a framework async method, the value flows to that method's continuations only.
            if (resolved.InAsyncCallee && !ReferenceEquals(TraceContext.LastCallSite, site))
            {
                TraceContext.LastCallSite = site;
            }

            return site;
        }

        return TraceContext.LastCallSite ?? fd?.OpenedAt ?? site;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FdOf(ArgumentLayout layout, nint a0, nint a1) => layout switch
    {
        ArgumentLayout.FdArg0 or ArgumentLayout.Connect or ArgumentLayout.Accept => (int)a0,
        ArgumentLayout.FdArg1 => (int)a1,
        ArgumentLayout.Poll when a1 == 1 && a0 != 0 => *(int*)a0,
        _ => -1,
    };

    private static void ReportFailure(Exception e)
    {
        try
        {
            s_onFailure?.Invoke(e);
        }
        catch (Exception)
        {
            // Nothing can be reported from here; the traced call must go on.
        }
    }
}
