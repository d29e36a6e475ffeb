using System.Collections.Concurrent;
using System.Diagnostics;
using IoTrace.DTrace.Consumer;
using IoTrace.Platform.Linux;
using IoTrace.Probes;
using IoTrace.Symbols;
using IoTrace.Tracing;

namespace IoTrace.DTrace.Attribution;

/// <summary>
/// Charges each call record to its trace, on the thread that reads dtrace's output: the fd and generation by where the
/// system call keeps its fd, the bytes of a call that moves them, the path as an opened fd's target or the call's own,
/// and the line its stack resolves to.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class RecordCharger(ConcurrentDictionary<long, DTraceTrace> traces, StackAttributor attributor)
{
    private static readonly double s_ticksPerNanosecond = Stopwatch.Frequency / 1e9;

    public void Charge(DTraceRecord record)
    {
        if (!traces.TryGetValue(record.Trace, out var trace))
        {
            return;
        }

        var session = trace.Session;
        var probe = ProbeCatalog.IndexOf(record.Syscall.Probe);
        var bytes = ProbeCatalog.Has(probe, ProbeTraits.MovesBytes) && record.Result > 0 ? record.Result : 0;
        var ticks = (long)(record.WallNanoseconds * s_ticksPerNanosecond);
        if (!session.KeepsContext)
        {
            session.Charge(IoCall.Counted(probe, 1, bytes, ticks, 0));
            return;
        }

        var (fd, generation) = FdOf(record);
        string? target = null;
        if (record.Target is { Length: > 0 } path)
        {
            if (record.Syscall.Path != SyscallPath.None && ProbeCatalog.Has(probe, ProbeTraits.OpensFd) && fd >= 0)
            {
                session.NameFd(fd, generation, path);
            }
            else
            {
                // A call by path (a stat, an unlink), an open that failed (the path it tried), a connect's peer.
                target = path;
            }
        }

        // Each record may wait for the code map (StackAttributor.Resolve): a record read later may hold code jitted after
        // an earlier wait. A stack waits once: its line is cached.
        bool? waited = null;
        var site = attributor.Resolve(session.Resolver, record.Stack, ref waited);
        session.Charge(new IoCall(probe, fd, generation, target, site, 1, bytes, ticks, 0));
    }

    private static (int Fd, long Generation) FdOf(DTraceRecord record) => record.Syscall.Fd switch
    {
        SyscallFd.Arg0 => ((int)record.Arg0, record.Arg0Generation),
        SyscallFd.Result when record.Result >= 0 => ((int)record.Result, record.ResultGeneration),

        // newfstatat(fd, "", AT_EMPTY_PATH) and utimensat(fd, NULL): a call on the fd, as fstat and futimens are.
        // poll on one fd: the script read it from the pollfd.
        SyscallFd.None when record.Syscall.Probe == "poll" && record.Arg0 >= 0 => ((int)record.Arg0, record.Arg0Generation),
        SyscallFd.None when record.Syscall.Path == SyscallPath.Arg1 && string.IsNullOrEmpty(record.Target) && record.Arg0 >= 0 => ((int)record.Arg0, record.Arg0Generation),
        _ => (-1, 0),
    };
}
