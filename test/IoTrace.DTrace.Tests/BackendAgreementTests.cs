using IoTrace.DTrace.Tests.TestSupport;
using IoTrace.Tests.KernelBackends;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.DTrace.Tests;

/// <summary>The same work traced by the dtrace backend and the in-process one, in one process: the same rows.</summary>
[Collection(typeof(DTraceTracing))]
public sealed class BackendAgreementTests(DTraceFixture fixture) : KernelBackendAgreement
{
    protected override string Backend => "dtrace";

    protected override void RequireBackend() => fixture.Require();
}
