using System.Collections.Concurrent;
using System.Diagnostics;
using IoTrace.Attribution;
using IoTrace.Backends;
using IoTrace.Probes;
using IoTrace.Tracing;
using IoTrace.Ebpf.Kernel;

using IoTrace.Symbols;

namespace IoTrace.Ebpf.Attribution;

/// <summary>
/// Charges each kernel flush to the traces it names, in order, on the attachment's flush thread: the facts about their
/// fds first (the paths of opened files), then every aggregate with the line its stack resolves to; and completes the
/// traces whose stop the flush covers.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class FlushCharger(ConcurrentDictionary<long, KernelTrace> traces, StackAttributor attributor, IBackendDiagnostics diagnostics)
{
    private static readonly double s_ticksPerNanosecond = Stopwatch.Frequency / 1e9;

    private int _lossReported;

    /// <summary>Tests: sees each flush before it is charged.</summary>
    public Action<KernelFlush>? FlushApplying { get; set; }

    public void Charge(KernelFlush flush)
    {
        bool? waited = null;
        try
        {
            FlushApplying?.Invoke(flush);
            NameFds(flush);
            var touched = new HashSet<KernelTrace>();

            // Closes first: the lives they end are then not described from /proc/self/fd, where by now their numbers may
            // stand for other files (the core's fd lives).
            foreach (var closes in (bool[])[true, false])
            {
                foreach (var aggregate in flush.Aggregates.Values)
                {
                    if (IsClose(aggregate) == closes && traces.TryGetValue(aggregate.Trace, out var trace))
                    {
                        touched.Add(trace);
                        Charge(trace, aggregate, ref waited);
                    }
                    else if (!closes && SharedConnections.ById(aggregate.Trace) is { } shared)
                    {
                        // A shared connection's calls outside traces, counted while a trace used it.
                        shared.Count(aggregate.Probe, aggregate.Calls, aggregate.Bytes, (long)(aggregate.WallNanoseconds * s_ticksPerNanosecond));
                    }
                }
            }

            if (flush.Events > flush.CountedCalls)
            {
                // The kernel counted calls that no map kept: a map was full, or a probe wrote after its buffer was
                // printed. Which trace it belonged to is unknown: every trace not yet complete may be short.
                foreach (var trace in touched.Concat(traces.Values))
                {
                    trace.Session.MarkIncomplete();
                }

                ReportLoss($"{flush.Events - flush.CountedCalls} calls were counted but not kept (a kernel map was full, or a probe outlived its buffer); the reports of the traces involved are marked incomplete");
            }
        }
        catch (Exception e)
        {
            diagnostics.TracerFailed(e);
        }

        // Every call that returned before the flush began is in it or an earlier one: traces stopped before are whole.
        foreach (var (id, trace) in traces)
        {
            var stopped = trace.StopTimestamp;
            if (stopped != 0 && KernelProbes.KernelNanoseconds(stopped) < flush.TimestampNanoseconds && traces.TryRemove(id, out _))
            {
                trace.Flushed.TrySetResult();
            }
        }
    }

    /// <summary>The kernel skipped calls of the process: the running traces cannot be trusted to be whole.</summary>
    public void OnLost(long calls)
    {
        foreach (var trace in traces.Values)
        {
            trace.Session.MarkIncomplete();
        }

        ReportLoss($"the kernel skipped the probes of {calls} system calls (a probe preempted on their CPU); the reports of the traces running then are marked incomplete");
    }

    private void ReportLoss(string reason)
    {
        if (Interlocked.Exchange(ref _lossReported, 1) == 0)
        {
            diagnostics.CallsLost(EbpfBackend.BackendName, reason);
        }
    }

    /// <summary>The paths the kernel read: by id (a stat's, an open's), and the files opened with theirs.</summary>
    private void NameFds(KernelFlush flush)
    {
        foreach (var ((id, fd, generation), path) in flush.Targets)
        {
            if (!traces.TryGetValue(id, out var trace))
            {
                continue;
            }

            // A path's id stands where an fd would, below -1 (the kernel program's path ids).
            if (fd < -1)
            {
                trace.Paths[fd] = path;
            }
            else
            {
                trace.Session.NameFd(fd, generation, path);
            }
        }

        // After the paths: an open's path may be named in this very flush.
        foreach (var ((id, fd, generation), pathId) in flush.OpenedPaths)
        {
            if (traces.TryGetValue(id, out var trace) && trace.Paths.TryGetValue(-1 - pathId, out var path))
            {
                trace.Session.NameFd(fd, generation, path);
            }
        }
    }

    private static bool IsClose(KernelAggregate aggregate) => aggregate.Probe >= 0 && ProbeCatalog.Has(aggregate.Probe, ProbeTraits.ClosesFd);

    private void Charge(KernelTrace trace, KernelAggregate aggregate, ref bool? waited)
    {
        var session = trace.Session;
        var ticks = (long)(aggregate.WallNanoseconds * s_ticksPerNanosecond);
        if (!session.KeepsContext)
        {
            session.Charge(IoCall.Counted(aggregate.Probe, aggregate.Calls, aggregate.Bytes, ticks, aggregate.CpuNanoseconds) with { Site = attributor.SiteWithoutContext(aggregate.Stack) });
            return;
        }

        var site = attributor.Resolve(session.Resolver, aggregate.Stack, ref waited);
        var target = aggregate.Fd < -1 ? trace.Paths.GetValueOrDefault(aggregate.Fd) : null;
        session.Charge(new IoCall(aggregate.Probe, Math.Max(aggregate.Fd, -1), aggregate.Generation, target, site, aggregate.Calls, aggregate.Bytes, ticks, aggregate.CpuNanoseconds)
        {
            QueuedBy = ThreadPoolCallSites.SiteOf(aggregate.InheritedSiteId),
        });
    }
}
