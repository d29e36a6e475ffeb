using IoTrace.Backends;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests.TestSupport;

/// <summary>
/// Makes the eBPF backend the process's backend (attached once) for the tests of the
/// <see cref="KernelTracing"/> collection, which run one at a time: the backend, like the kernel's view, is process-wide.
/// </summary>
public sealed class EbpfFixture
{
    /// <summary>
    /// Skips (fails under CI) when the machine cannot run eBPF; fails when it can but the backend does not attach.
    /// Attaches again after a test that switched backends or made the backend fail.
    /// </summary>
#pragma warning disable CA1822 // An instance method: tests reach it through the injected fixture, which is what starts the collection.
    public void Require()
    {
        Requires.Ebpf();
        IoTracer.AddBackend(IoTraceEbpf.Backend);
        Assert.True(IoTracer.TryEnable("ebpf", out var reason), $"The eBPF backend did not attach: {reason}");
        Assert.Equal("ebpf", IoTracer.BackendName);
    }
#pragma warning restore CA1822

    /// <summary>The eBPF backend the static methods use (with the in-process one serving while it attaches).</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    internal static EbpfBackend Backend => Assert.IsType<EbpfBackend>(Assert.IsType<FallbackBackend>(IoTracer.Backend).Primary);
}

[CollectionDefinition(DisableParallelization = true)]
public sealed class KernelTracing : ICollectionFixture<EbpfFixture>;
