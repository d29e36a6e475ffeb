using IoTrace.Backends;
using Xunit;

namespace IoTrace.Tests.Backends;

public sealed class BackendSelectorTests
{
    [Theory]
    [InlineData("ebpf", "services.AddIoTrace().AddEbpfBackend()")]
    [InlineData("dtrace", "services.AddIoTrace().AddDTraceBackend()")]
    public void Create_PackagedBackendNotRegistered_SaysHowToRegisterIt(string name, string registration)
    {
        var backend = BackendSelector.Create(name, [], out var reason);

        Assert.Null(backend);
        Assert.StartsWith($"the {name} backend is not registered: ", reason, StringComparison.Ordinal);
        Assert.Contains(registration, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_UnknownName_SaysNoBackendHasIt()
    {
        Assert.Null(BackendSelector.Create("perf", [], out var reason));
        Assert.Equal("no backend is named 'perf'", reason);
    }
}
