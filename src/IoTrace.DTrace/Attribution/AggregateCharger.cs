using IoTrace.DTrace.Consumer;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;
using IoTrace.Probes;
using IoTrace.Symbols;
using IoTrace.Tracing;

namespace IoTrace.DTrace.Attribution;

/// <summary>
/// Charges a flush of the syscall provider's script (<see cref="SyscallProviderScript"/>) to its traces, as
/// <see cref="FlushCharger"/> charges the Linux script's lines: closes first, each row with its fd life, its path as an
/// opened fd's target or the call's own, and the line its stack resolves to. A row of a call the platform's catalog
/// does not have, or of a trace not running here, is left out.
/// </summary>
internal sealed class AggregateCharger(DTracePlatform platform, Func<long, TraceSession?> traceOf, StackAttributor attributor)
{
    public void Charge(AggregateFlush flush)
    {
        bool? waited = null;
        foreach (var closes in (bool[])[true, false])
        {
            foreach (var row in flush.Rows)
            {
                if (platform.Find(row.Call) is { } call && call.ClosesFd == closes && traceOf(row.Trace) is { } session)
                {
                    Charge(session, call, row, ref waited);
                }
            }
        }
    }

    private void Charge(TraceSession session, PlatformSyscall call, AggregateRow row, ref bool? waited)
    {
        // Counted as the Linux probe the call stands for: the catalog's names are Linux's.
        var probe = ProbeCatalog.IndexOf(call.Like);
        var ticks = ContextCharges.Ticks(row.WallNanoseconds);
        var cpu = row.CpuNanoseconds ?? 0;
        if (!session.KeepsContext)
        {
            session.Charge(IoCall.Counted(probe, row.Calls, row.Bytes, ticks, cpu));
            return;
        }

        var site = attributor.Resolve(session.Resolver, row.Stack, ref waited);
        ContextCharges.Charge(session, probe, call.Path != SyscallPath.None, row.Fd, row.Generation, row.Path, site, row.Calls, row.Bytes, ticks, cpu);
    }
}
