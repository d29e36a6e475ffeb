using IoTrace.Tests.Shared;
using Microsoft.Diagnostics.Tracing.Session;
using Xunit;

namespace IoTrace.Etw.Tests.Windows.TestSupport;

/// <summary>
/// Makes the ETW backend the process's backend (attached once) for the tests of the <see cref="EtwTracing"/> collection,
/// which run one at a time: the backend, like the kernel's session, is process-wide.
/// </summary>
public sealed class EtwFixture
{
    /// <summary>Skips off Windows; on Windows, fails (under CI) where the process is not elevated, and where the backend does not attach.</summary>
#pragma warning disable CA1822 // An instance method: tests reach it through the injected fixture, which is what starts the collection.
    public void Require()
    {
        Assert.SkipUnless(OperatingSystem.IsWindows(), "the ETW backend runs on Windows");
        Requires.That(TraceEventSession.IsElevated() == true, "the ETW backend needs an elevated process (run as administrator)");
        IoTracer.AddBackend(IoTraceEtw.Backend);
        Assert.True(IoTracer.TryEnable("etw", out var reason), $"The ETW backend did not attach: {reason}");
        Assert.Equal("etw", IoTracer.BackendName);
    }
#pragma warning restore CA1822

    /// <summary>The process's own session's name, as the backend names it.</summary>
    public static string SessionName => $"IoTrace-{Environment.ProcessId}";
}

[CollectionDefinition(DisableParallelization = true)]
public sealed class EtwTracing : ICollectionFixture<EtwFixture>;
