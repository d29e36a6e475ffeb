namespace IoTrace.Ebpf.Kernel;

/// <summary>One flush of the kernel maps: what the traced process did since the previous one, per trace.</summary>
internal sealed class KernelFlush(long sequence, long coveredNanoseconds)
{
    /// <summary>The flush's number: the process acknowledges it once read, which lets the kernel rotate again.</summary>
    public long Sequence { get; } = sequence;

    /// <summary>When the printed buffer stopped being current (CLOCK_MONOTONIC): every call that returned before it is in this flush or an earlier one.</summary>
    public long TimestampNanoseconds { get; } = coveredNanoseconds;

    public Dictionary<AggregateKey, KernelAggregate> Aggregates { get; } = [];

    /// <summary>Paths of the files traces opened, by (trace, fd).</summary>
    public Dictionary<(long Trace, int Fd, long Generation), string> Targets { get; } = [];

    /// <summary>Files traces opened, by (trace, fd), to the id of their path: its target is under (trace, -1 - id, 0) in <see cref="Targets"/>, of this flush or an earlier one.</summary>
    public Dictionary<(long Trace, int Fd, long Generation), long> OpenedPaths { get; } = [];

    /// <summary>How many calls the kernel counted; fewer in <see cref="Aggregates"/> means a map was full.</summary>
    public long Events { get; set; }

    public long CountedCalls => Aggregates.Values.Sum(a => a.Calls);

    /// <summary>The aggregate of a kernel map key, created on its first feature: trace, probe as the kernel numbers it, then fd, generation and stack hash with context.</summary>
    /// <summary>
    /// The aggregate of one key; <paramref name="context"/> is the key's context word: 0 without context, else 1 and,
    /// from bit 8, the number of the line the calls' thread inherited.
    /// </summary>
    public KernelAggregate Aggregate(long trace, long kernelProbe, long fd, long generation, long stackHash, uint context)
    {
        var key = new AggregateKey(trace, kernelProbe, fd, generation, stackHash, context);
        if (!Aggregates.TryGetValue(key, out var aggregate))
        {
            aggregate = new KernelAggregate(trace, SyscallTable.ProbeOf(kernelProbe), (int)fd, generation, stackHash) { InheritedSiteId = context >> 8 };
            Aggregates[key] = aggregate;
        }

        return aggregate;
    }

    internal readonly record struct AggregateKey(long Trace, long KernelProbe, long Fd, long Generation, long StackHash, uint Context);
}

/// <summary>The kernel's aggregate of one (trace, probe, fd, user stack).</summary>
internal sealed class KernelAggregate(long trace, int probe, int fd, long generation, long stackHash)
{
    public long Trace { get; } = trace;

    /// <summary>Index into <see cref="IoTrace.Probes.ProbeCatalog"/>.</summary>
    public int Probe { get; } = probe;

    public int Fd { get; } = fd;

    /// <summary>Which opening of <see cref="Fd"/> (the kernel counts each number's closes): a reused number is another file.</summary>
    public long Generation { get; } = generation;

    /// <summary>The kernel's hash of the user stack; 0 without context.</summary>
    public long StackHash { get; } = stackHash;

    /// <summary>Instruction pointer first, then return addresses; empty without context.</summary>
    public ulong[] Stack { get; set; } = [];

    public long Calls { get; set; }

    public long Bytes { get; set; }

    public long WallNanoseconds { get; set; }

    public long CpuNanoseconds { get; set; }

    /// <summary>The number of the line the calls' thread inherited (<see cref="IoTrace.Attribution.ThreadPoolCallSites.SiteOf"/>); 0 for none.</summary>
    public uint InheritedSiteId { get; init; }
}
