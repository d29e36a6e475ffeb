using System.Diagnostics;
using IoTrace.DTrace.Consumer;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.Consumer;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DTraceLeftoversTests
{
    private const string Events = "/sys/kernel/debug/tracing/uprobe_events";

    /// <summary>
    /// A dtrace that died uncleanly leaves its own provider's uprobes in the group named for its pid; a dtrace that gets
    /// that pid later cannot start. Those of a pid that is no running dtrace's go; another group's stay.
    /// </summary>
    [Fact]
    public void Remove_OwnProviderUprobesOfADeadDTrace_RemovedAndOthersKept()
    {
        Requires.DTrace();
        var dead = DeadPid();
        var leftover = $"dt_{dead}_dtrace/BEGIN";
        var other = $"dt_{dead}_iotracetest/BEGIN";
        File.AppendAllText(Events, $"p:{leftover} /bin/true:0x1000\n");
        File.AppendAllText(Events, $"p:{other} /bin/true:0x1000\n");
        try
        {
            var removed = DTraceLeftovers.Remove();

            var lines = File.ReadAllLines(Events);
            Assert.DoesNotContain(lines, l => l.StartsWith($"p:{leftover} ", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith($"p:{other} ", StringComparison.Ordinal));
            Assert.True(removed >= 1);
        }
        finally
        {
            foreach (var name in (string[])[leftover, other])
            {
                try
                {
                    File.AppendAllText(Events, $"-:{name}\n");
                }
                catch (IOException)
                {
                    // Already gone.
                }
            }
        }
    }

    /// <summary>The pid of a process that has exited.</summary>
    private static int DeadPid()
    {
        using var process = Process.Start("/bin/true")!;
        process.WaitForExit();
        return process.Id;
    }
}
