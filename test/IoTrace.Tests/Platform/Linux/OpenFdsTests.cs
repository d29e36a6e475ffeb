using IoTrace.Platform.Linux;
using IoTrace.Tests.Shared;
using IoTrace.Tests.TestSupport;
using Xunit;

namespace IoTrace.Tests.Platform.Linux;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class OpenFdsTests : IDisposable
{
    private readonly TempFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void List_FilesOpenedAndClosed_HasExactlyTheOpenOnes()
    {
        Requires.Linux();
        var first = File.OpenHandle(_files.Create(10));
        using var second = File.OpenHandle(_files.Create(20));
        var (firstFd, secondFd) = ((int)first.DangerousGetHandle(), (int)second.DangerousGetHandle());
        var before = OpenFds.List();
        first.Dispose();

        var after = OpenFds.List();

        Assert.Contains(firstFd, before);
        Assert.Contains(secondFd, before);
        Assert.DoesNotContain(firstFd, after);
        Assert.Contains(secondFd, after);
        Assert.Equal(after.Count, after.Distinct().Count());
        Assert.All(after, static fd => Assert.True(fd >= 0));
    }
}
