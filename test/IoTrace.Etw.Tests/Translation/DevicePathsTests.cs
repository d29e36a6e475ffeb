using IoTrace.Etw.Translation;
using Xunit;

namespace IoTrace.Etw.Tests.Translation;

public sealed class DevicePathsTests
{
    private readonly DevicePaths _paths = new([("\\Device\\HarddiskVolume1", "D:"), ("\\Device\\HarddiskVolume10", "C:")]);

    [Theory]
    [InlineData("\\Device\\HarddiskVolume10\\app\\data.json", "C:\\app\\data.json")]
    [InlineData("\\Device\\HarddiskVolume1\\logs\\a.log", "D:\\logs\\a.log")]
    [InlineData("\\Device\\HarddiskVolume1", "D:")]
    [InlineData("\\Device\\Mup\\server\\share\\f", "\\Device\\Mup\\server\\share\\f")]
    public void ToDrivePath_KernelPath_TheDrivesPath(string kernelPath, string expected) => Assert.Equal(expected, _paths.ToDrivePath(kernelPath));

    [Fact]
    public void ToDrivePath_Nothing_Null() => Assert.Null(_paths.ToDrivePath(string.Empty));
}
