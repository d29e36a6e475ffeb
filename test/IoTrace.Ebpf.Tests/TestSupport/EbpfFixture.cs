using IoTrace.Testing;
using Xunit;

namespace IoTrace.Ebpf.Tests.TestSupport;

/// <summary>
/// Makes the eBPF backend the process's backend once (bpftrace attaches in about a second) for the tests of the
/// <see cref="KernelTracing"/>, which run one at a time: the backend, like the kernel's view, is process-wide.
/// </summary>
public sealed class EbpfFixture
{
    private readonly string? _failure;

    public EbpfFixture()
    {
        if (!OperatingSystem.IsLinux())
        {
            _failure = "Linux only";
            return;
        }

        _failure = IoTracer.TryEnable("ebpf", out var reason) ? null : reason;
    }

    /// <summary>Skips (fails under CI) when the machine cannot run eBPF; fails when it can but the backend did not attach.</summary>
    public void Require()
    {
        Requires.Ebpf();
        Assert.True(_failure is null, $"The eBPF backend did not attach: {_failure}");
        Assert.Equal("ebpf", IoTracer.BackendName);
    }
}

[CollectionDefinition(DisableParallelization = true)]
public sealed class KernelTracing : ICollectionFixture<EbpfFixture>;
