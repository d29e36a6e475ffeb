using System.Diagnostics;
using IoTrace.Backends;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests.TestSupport;

/// <summary>
/// Makes the dtrace backend the process's backend (attached once) for the tests of the <see cref="DTraceTracing"/>
/// collection, which run one at a time: the backend, like dtrace's view, is process-wide. At the end it detaches and
/// waits for its dtrace to exit: dtrace's teardown takes seconds, and the next test project must not run beside it.
/// </summary>
public sealed class DTraceFixture : IDisposable
{
    /// <summary>Skips (fails under CI) when the machine cannot run dtrace; fails when it can but the backend does not attach.</summary>
#pragma warning disable CA1822 // An instance method: tests reach it through the injected fixture, which is what starts the collection.
    public void Require()
    {
        Requires.DTrace();
        IoTracer.AddBackend(IoTraceDTrace.Backend);
        Assert.True(IoTracer.TryEnable("dtrace", out var reason), $"The dtrace backend did not attach: {reason}");
        Assert.Equal("dtrace", IoTracer.BackendName);
    }
#pragma warning restore CA1822

    public void Dispose()
    {
        var dtraces = ChildDTraces();
        IoTracer.Disable();
        foreach (var dtrace in dtraces)
        {
            using (dtrace)
            {
                Assert.True(dtrace.WaitForExit(TimeSpan.FromSeconds(30)), $"dtrace (pid {dtrace.Id}) still runs 30 s after the backend detached");
            }
        }
    }

    /// <summary>This process's dtrace children, by /proc (a process this one did not start through <see cref="Process"/> has no handle here).</summary>
    private static List<Process> ChildDTraces()
    {
        var children = new List<Process>();
        foreach (var process in Process.GetProcessesByName("dtrace"))
        {
            // pid (comm) state ppid ...: the fields after the command's closing parenthesis; none if it has exited.
            var stat = File.Exists($"/proc/{process.Id}/stat") ? File.ReadAllText($"/proc/{process.Id}/stat") : "";
            var fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 1 && fields[1] == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                children.Add(process);
            }
            else
            {
                process.Dispose();
            }
        }

        return children;
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    internal static DTraceBackend Backend => Assert.IsType<DTraceBackend>(Assert.IsType<FallbackBackend>(IoTracer.Backend).Primary);
}

[CollectionDefinition(DisableParallelization = true)]
public sealed class DTraceTracing : ICollectionFixture<DTraceFixture>;
