using System.Runtime.Versioning;
using IoTrace.Backends.InProcess;
using IoTrace.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;
using IoTrace.Platform.Linux;

namespace IoTrace.Tests.Backends.InProcess;

[SupportedOSPlatform("linux")]
public sealed class NativeShimTests
{
    [Fact]
    public void TryLoad_LibraryMissing_SaysWhy()
    {
        Requires.Linux();

        Assert.False(NativeShim.TryLoad("libIoTrace.Missing.so", out var shim, out var reason));
        Assert.Null(shim);
        Assert.Equal("libIoTrace.Missing.so was not found next to the application (it is built on Linux with a C compiler)", reason);
    }

    [Fact]
    public void TryLoad_ShippedLibrary_ExposesAWorkingThreadCpuClock()
    {
        Requires.Linux();

        var shim = NativeShim.Shared(out var reason);
        Assert.True(shim is not null, reason);
        unsafe
        {
            var before = shim!.ThreadCpuNanoseconds();
            var spin = 0L;
            for (var i = 0; i < 5_000_000; i++)
            {
                spin += i ^ spin;
            }

            var after = shim.ThreadCpuNanoseconds();
            Assert.True(after > before, $"the thread's CPU clock advanced while it computed ({spin})");
        }
    }
}
