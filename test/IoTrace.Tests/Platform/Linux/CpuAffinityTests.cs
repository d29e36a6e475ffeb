using IoTrace.Platform.Linux;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Tests.Platform.Linux;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CpuAffinityTests
{
    [Fact]
    public async Task TrySet_OneCpuOnAThreadOfItsOwn_OfReadsItBackAndTheProcessKeepsItsOwn()
    {
        Requires.Linux();
        var processCpus = CpuAffinity.Of(Environment.ProcessId);
        Assert.NotNull(processCpus);
        Assert.NotEmpty(processCpus);

        // A thread of its own, since its affinity is changed for good.
        var pinned = await Task.Factory.StartNew(
            () => CpuAffinity.TrySet(0, [processCpus[^1]]) ? CpuAffinity.Of(0) : null,
            TaskCreationOptions.LongRunning);

        Assert.Equal([processCpus[^1]], Assert.IsType<int[]>(pinned));
        Assert.Equal(processCpus, Assert.IsType<int[]>(CpuAffinity.Of(Environment.ProcessId)));
    }
}
