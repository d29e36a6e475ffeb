namespace IoTrace;

/// <summary>
/// The calls of one probe made from one source line on one file descriptor during a trace.
/// </summary>
public sealed class IoAggregate
{
    /// <summary>Creates an aggregate.</summary>
    /// <param name="probe">The probe (Linux syscall name, as strace prints it).</param>
    /// <param name="file">The source file of the call site, relative to the trace's root path when under it.</param>
    /// <param name="line">The line of the call site.</param>
    /// <param name="method">The method of the call site.</param>
    /// <param name="fd">The file descriptor.</param>
    /// <param name="target">The file path or socket peer behind the file descriptor.</param>
    /// <param name="calls">The number of calls.</param>
    /// <param name="bytes">The bytes read or written.</param>
    /// <param name="time">The wall time inside the calls.</param>
    /// <param name="cpu">The on-CPU time of the calling threads inside the calls.</param>
    /// <param name="targetKind">What <paramref name="target"/> is, told before it was redacted.</param>
    public IoAggregate(string probe, string? file, int? line, string? method, int? fd, string? target, long calls, long bytes, TimeSpan time, TimeSpan cpu, IoTargetKind targetKind = IoTargetKind.Other)
    {
        ArgumentException.ThrowIfNullOrEmpty(probe);
        Probe = probe;
        File = file;
        Line = line;
        Method = method;
        Fd = fd;
        Target = target;
        Calls = calls;
        Bytes = bytes;
        Time = time;
        Cpu = cpu;
        TargetKind = targetKind;
    }

    /// <summary>The probe: the Linux syscall name as strace prints it (<c>pread64</c>, <c>recvfrom</c>, <c>openat</c>, ...).</summary>
    public string Probe { get; }

    /// <summary>The source file of the application line that made the calls; <see langword="null"/> for <see cref="Strategy.Summary"/> or when no PDB was found.</summary>
    public string? File { get; }

    /// <summary>The source line that made the calls; <see langword="null"/> when unknown.</summary>
    public int? Line { get; }

    /// <summary>The full name of the application method that made the calls; <see langword="null"/> for <see cref="Strategy.Summary"/>.</summary>
    public string? Method { get; }

    /// <summary>The file descriptor; <see langword="null"/> for <see cref="Strategy.Summary"/> and for calls that take a path.</summary>
    public int? Fd { get; }

    /// <summary>The file path or socket peer behind <see cref="Fd"/> (or the path a stat or open call named).</summary>
    public string? Target { get; }

    /// <summary>What <see cref="Target"/> is: a file, a socket, or other.</summary>
    public IoTargetKind TargetKind { get; }

    /// <summary>The number of calls, failed ones included (as <c>strace -c</c> counts them).</summary>
    public long Calls { get; }

    /// <summary>The bytes transferred by read and write probes: the sum of their positive return values.</summary>
    public long Bytes { get; }

    /// <summary>The wall time spent inside the calls.</summary>
    public TimeSpan Time { get; }

    /// <summary>The on-CPU time of the calling threads inside the calls.</summary>
    public TimeSpan Cpu { get; }

    /// <summary>
    /// The time the calls waited off CPU: <see cref="Time"/> minus <see cref="Cpu"/> (never below zero). Meaningful
    /// only where the report measured both (<see cref="IoTraceFeatures.Wait"/>).
    /// </summary>
    public TimeSpan Wait => Time > Cpu ? Time - Cpu : TimeSpan.Zero;

    /// <summary>The source location as <c>File:Line</c>, the method name without a PDB, or <see langword="null"/>.</summary>
    public string? Location => File is null ? Method : Line is null ? File : $"{File}:{Line}";
}
