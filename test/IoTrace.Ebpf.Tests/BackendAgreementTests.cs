using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Tests.KernelBackends;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests;

/// <summary>The same work traced by both backends of one process: the same calls and bytes per probe.</summary>
[Collection(typeof(KernelTracing))]
public sealed class BackendAgreementTests(EbpfFixture fixture) : KernelBackendAgreement
{
    protected override string Backend => "ebpf";

    protected override void RequireBackend() => fixture.Require();
}
