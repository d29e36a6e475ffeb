using IoTrace.AspNetCore;
using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Tests.KernelBackends;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace IoTrace.DTrace.Tests.Middleware;

/// <summary>The middleware on the dtrace backend: the kernel backends' middleware suite.</summary>
[Collection(typeof(DTraceTracing))]
public sealed class DTraceMiddlewareTests(DTraceFixture fixture) : KernelBackendMiddleware
{
    protected override string Backend => "dtrace";

    protected override IoTraceBackend BackendOption => IoTraceBackend.DTrace;

    protected override void RequireBackend() => fixture.Require();

    protected override void AddBackend(IServiceCollection services) => services.AddDTraceBackend();
}
