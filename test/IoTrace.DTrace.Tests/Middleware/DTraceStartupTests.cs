using IoTrace.AspNetCore;
using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Tests.KernelBackends;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace IoTrace.DTrace.Tests.Middleware;

/// <summary>The dtrace backend cannot run: dtrace missing, simulated with IOTRACE_DTRACE naming a file that is not there.</summary>
[Collection(typeof(DTraceTracing))]
public sealed class DTraceStartupTests(DTraceFixture fixture) : KernelBackendStartupContract
{
    protected override IoTraceBackend Backend => IoTraceBackend.DTrace;

    protected override string Variable => "IOTRACE_DTRACE";

    protected override string Missing => "/nonexistent/dtrace";

    protected override string Reason => "/nonexistent/dtrace (IOTRACE_DTRACE) does not exist";

    protected override void RequireBackend() => fixture.Require();

    protected override void AddBackend(IServiceCollection services) => services.AddDTraceBackend();
}
