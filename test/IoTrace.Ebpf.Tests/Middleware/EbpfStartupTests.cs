using IoTrace.AspNetCore;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Tests.KernelBackends;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace IoTrace.Ebpf.Tests.Middleware;

/// <summary>The eBPF backend cannot run: libbpf missing, simulated with IOTRACE_LIBBPF naming a file that is not there.</summary>
[Collection(typeof(KernelTracing))]
public sealed class EbpfStartupTests(EbpfFixture fixture) : KernelBackendStartupContract
{
    protected override IoTraceBackend Backend => IoTraceBackend.Ebpf;

    protected override string Variable => "IOTRACE_LIBBPF";

    protected override string Missing => "/nonexistent/libbpf.so.1";

    protected override string Reason => "/nonexistent/libbpf.so.1 (IOTRACE_LIBBPF) could not be loaded (install libbpf 1.0 or later: apt-get install libbpf1";

    public override void Dispose()
    {
        base.Dispose();
        IoTracer.Disable();
    }

    protected override void RequireBackend() => fixture.Require();

    protected override void AddBackend(IServiceCollection services) => services.AddEbpfBackend();

    /// <summary>The process leaves the eBPF backend first: a backend chosen already is not chosen again.</summary>
    protected override void Hide()
    {
        Assert.True(IoTracer.TryEnable("inprocess", out var reason), reason);
        base.Hide();
    }
}
