using System.Runtime.Versioning;
using IoTrace.DTrace.Script;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// The dtrace process the backend runs with <see cref="SyscallProviderScript"/> (macOS, FreeBSD, illumos; the tests on
/// Linux): read by <see cref="AggregateOutputParser"/>, and asked for its flushes one at a time, each only once the one
/// before is read, as the script's sets that take turns require.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class SyscallProviderProcess : DTraceOutput
{
    private static readonly TimeSpan s_heartbeat = TimeSpan.FromSeconds(1);

    private readonly AggregateOutputParser _parser = new();
    private readonly SemaphoreSlim _flushRead = new(0);
    private long _read;

    private SyscallProviderProcess(DTraceChild child)
        : base(child)
    {
    }

    /// <summary>Flush <c>n</c> was read, with what it printed (on the output thread).</summary>
    public event Action<long, AggregateFlush>? Flushed;

    /// <summary>A flush prints the set of aggregations that stopped at the flush before it.</summary>
    public override int FlushesLate => 1;

    /// <summary>No line of dtrace's comes between flushes: the flush thread raises the heartbeat, also while dtrace stalls.</summary>
    protected override TimeSpan FlushThreadHeartbeat => s_heartbeat;

    /// <summary>Starts dtrace on <paramref name="script"/> and waits for its probes to be enabled.</summary>
    /// <param name="dtrace">The dtrace executable.</param>
    /// <param name="script">The script, from <see cref="SyscallProviderScript.Generate"/>.</param>
    /// <param name="timeout">How long to wait for the script's ready line.</param>
    /// <param name="recording">A file to append dtrace's output to, line by line, as it is read; null for none.</param>
    public static SyscallProviderProcess Start(string dtrace, string script, TimeSpan timeout, string? recording = null) =>
        Started(new SyscallProviderProcess(DTraceChild.Start(dtrace, script, recording)), timeout);

    protected override void OnDisposing() => _flushRead.Release();

    protected override void ReadOutput()
    {
        while (Child.ReadLine() is { } line)
        {
            if (_parser.Add(line) is { } flush)
            {
                var sequence = ++_read;
                _flushRead.Release();
                Flushed?.Invoke(sequence, flush);
            }
            else if (_parser.IsReady)
            {
                Ready.TrySetResult(null);
            }
        }

        Ended();
    }

    /// <summary>
    /// Flush <c>n + 1</c> only once flush <c>n</c> is read, so the set it prints was snapshotted after it stopped counting;
    /// the heartbeat goes on while it waits, so that overdue traces are given up when dtrace stalls.
    /// </summary>
    protected override void MakeFlush(long sequence)
    {
        SyscallProviderScript.RequestFlush();
        while (!_flushRead.Wait(s_heartbeat) && !IsDisposed)
        {
            OnHeartbeat();
        }
    }
}
