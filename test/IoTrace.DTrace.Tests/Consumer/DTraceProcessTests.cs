using System.Globalization;
using IoTrace.DTrace.Consumer;
using IoTrace.Platform.Linux;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.Consumer;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DTraceProcessTests
{
    /// <summary>
    /// A thread pinned to one CPU starts dtrace (a benchmark's measuring thread, an app's pinned worker): dtrace would
    /// inherit that CPU, and compete with it; the flush markers would be made there alone, and miss the calls printed
    /// from the process's other CPUs. Both get the process's CPUs.
    /// </summary>
    [Fact]
    public async Task Start_FromAThreadPinnedToOneCpu_DTraceAndTheMarkersHaveTheProcesssCpus()
    {
        Requires.DTrace();
        var processCpus = CpusAllowed("self");
        Requires.That(processCpus.Length > 1, "the process may run on one CPU only");
        var dtrace = DTraceBackend.FindDTrace(out var reason);
        Assert.True(dtrace is not null, reason);

        // A thread of its own, since its affinity is changed for good.
        var started = Task.Factory.StartNew(() =>
        {
            Assert.True(CpuAffinity.TrySet(0, [processCpus[^1]]));
            using var process = DTraceProcess.Start(dtrace, "BEGIN { printf(\"R\\n\"); }", TimeSpan.FromSeconds(60));
            return (Dtrace: CpusAllowed(process.ProcessId.ToString(CultureInfo.InvariantCulture)), Markers: DTraceChild.AllowedCpus());
        }, TaskCreationOptions.LongRunning);

        var (dtraceCpus, markerCpus) = await started;
        Assert.Equal(processCpus, dtraceCpus);
        Assert.Equal(processCpus, markerCpus);
    }

    [Fact]
    public void Start_WithARecording_AppendsEveryLineAsItIsRead()
    {
        Requires.DTrace();
        var dtrace = DTraceBackend.FindDTrace(out var reason);
        Assert.True(dtrace is not null, reason);
        var recording = Path.Combine(Path.GetTempPath(), $"iotrace-recording-{Guid.NewGuid():N}.txt");
        File.WriteAllText(recording, "before\n");
        try
        {
            // The ready line is recorded before Start returns, as every line is before it is handled.
            using (DTraceProcess.Start(dtrace, "BEGIN { printf(\"X 1\\n\"); printf(\"R\\n\"); }", TimeSpan.FromSeconds(60), recording))
            {
                Assert.Equal(["before", "X 1", "R"], File.ReadAllLines(recording));
            }
        }
        finally
        {
            File.Delete(recording);
        }
    }

    /// <summary>The CPUs /proc/<paramref name="pid"/>/status allows, for its main thread.</summary>
    private static int[] CpusAllowed(string pid)
    {
        const string Key = "Cpus_allowed_list:";
        var list = File.ReadLines($"/proc/{pid}/status").Single(static l => l.StartsWith(Key, StringComparison.Ordinal))[Key.Length..].Trim();
        return [.. list.Split(',').SelectMany(static range => range.Split('-') is [var first, var last]
            ? Enumerable.Range(Parse(first), Parse(last) - Parse(first) + 1)
            : [Parse(range)])];
    }

    private static int Parse(string number) => int.Parse(number, CultureInfo.InvariantCulture);
}
