using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;
using IoTrace.Probes;
using Xunit;

namespace IoTrace.DTrace.Tests.Script;

public sealed class SyscallCatalogsTests
{
    public static TheoryData<string> Platforms => [.. DTracePlatform.All.Select(static p => p.Name)];

    /// <summary>Each name once, each provider name once: the consumer maps what <c>probefunc</c> prints back to one call.</summary>
    [Theory]
    [MemberData(nameof(Platforms))]
    public void Calls_EachPlatform_NamesAreUnique(string name)
    {
        var platform = DTracePlatform.All.Single(p => p.Name == name);

        Assert.Equal(platform.Calls.Count, platform.Calls.Select(static c => c.Name).Distinct(StringComparer.Ordinal).Count());
        Assert.All(platform.Calls, c => Assert.Same(c, platform.Find(c.ProviderName)));
    }

    /// <summary>Every platform has each kind of IO a strategy records: reads, writes, opens with their paths, closes, connects.</summary>
    [Theory]
    [MemberData(nameof(Platforms))]
    public void Calls_EachPlatform_CoverEveryStrategy(string name)
    {
        var platform = DTracePlatform.All.Single(p => p.Name == name);

        Assert.Contains(platform.Calls, static c => c.Kind == ProbeKind.Read && c.MovesBytes && c.Fd == SyscallFd.Arg0);
        Assert.Contains(platform.Calls, static c => c.Kind == ProbeKind.Write && c.MovesBytes && c.Fd == SyscallFd.Arg0);
        Assert.Contains(platform.Calls, static c => c.Kind == ProbeKind.Setup && c.Fd == SyscallFd.Result && c.Path != SyscallPath.None);
        Assert.Contains(platform.Calls, static c => c.ClosesFd);
        Assert.Contains(platform.Calls, static c => c.NamesPeer);
        foreach (var strategy in Enum.GetValues<Strategy>())
        {
            Assert.Contains(platform.CallsFor(strategy), static c => !c.ClosesFd);
        }
    }

    /// <summary>Linux's catalog is the kernel backends' table, under strace's names; the provider names four by the kernel's functions.</summary>
    [Fact]
    public void Linux_IsTheKernelBackendsTable_WithTheProvidersFunctionNames()
    {
        Assert.Equal(LinuxSyscalls.X64.Select(static c => (c.Name, c.Probe, c.Fd, c.Path)), DTracePlatform.Linux.Calls.Select(static c => (c.Name, c.Like, c.Fd, c.Path)));
        Assert.Equal(
            [("fstat", "newfstat"), ("lstat", "newlstat"), ("sendfile", "sendfile64"), ("stat", "newstat")],
            DTracePlatform.Linux.Calls.Where(static c => c.Name != c.ProviderName).Select(static c => (c.Name, c.ProviderName)).OrderBy(static p => p.Name, StringComparer.Ordinal));
    }

    /// <summary>macOS counts the variants .NET's libSystem.Native calls as the calls they stand for.</summary>
    [Theory]
    [InlineData("read_nocancel", "read")]
    [InlineData("pread_nocancel", "pread64")]
    [InlineData("recvfrom_nocancel", "recvfrom")]
    [InlineData("sendto_nocancel", "sendto")]
    [InlineData("writev_nocancel", "writev")]
    [InlineData("open_nocancel", "open")]
    [InlineData("stat64", "stat")]
    [InlineData("fstat64", "fstat")]
    [InlineData("getdirentries64", "getdents64")]
    public void MacOS_NocancelAndInode64Variants_CountAsTheirCalls(string name, string like)
    {
        var call = DTracePlatform.MacOS.Find(name);

        Assert.NotNull(call);
        Assert.Equal(like, call.Like);
    }
}
