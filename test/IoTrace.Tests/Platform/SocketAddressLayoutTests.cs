using System.Text;
using IoTrace.Platform;
using Xunit;

namespace IoTrace.Tests.Platform;

/// <summary>
/// Socket addresses as each OS's headers lay them out, built byte by byte: a dtrace script on that OS prints them as it
/// finds them in the app's memory.
/// </summary>
public sealed class SocketAddressLayoutTests
{
    public static TheoryData<string, int> Inet6Families => new() { { "linux", 10 }, { "macos", 30 }, { "freebsd", 28 }, { "illumos", 26 } };

    [Theory]
    [InlineData("linux")]
    [InlineData("macos")]
    [InlineData("freebsd")]
    [InlineData("illumos")]
    public void Format_Inet_AddressAndPort(string os)
    {
        // sockaddr_in: the family (after sin_len on the BSDs), sin_port big-endian at 2, sin_addr at 4.
        byte[] address = [.. Family(os, 2), 0x13, 0x88, 127, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];

        Assert.Equal("127.0.0.2:5000", Layout(os).Format(address));
        Assert.Equal("127.0.0.2", Layout(os).FormatHost(address));
    }

    [Theory]
    [MemberData(nameof(Inet6Families))]
    public void Format_Inet6_AddressAndPortInBrackets(string os, int family)
    {
        // sockaddr_in6: the family, sin6_port at 2, sin6_flowinfo at 4, sin6_addr at 8.
        byte[] address = [.. Family(os, family), 0x1f, 0x90, 0, 0, 0, 0, .. new byte[15], 1, 0, 0, 0, 0];

        Assert.Equal("[::1]:8080", Layout(os).Format(address));
        Assert.Equal("::1", Layout(os).FormatHost(address));
    }

    [Theory]
    [InlineData("linux")]
    [InlineData("macos")]
    [InlineData("freebsd")]
    [InlineData("illumos")]
    public void Format_Local_ThePath(string os)
    {
        byte[] address = [.. Family(os, 1), .. Encoding.UTF8.GetBytes("/run/app.sock"), 0, 0xff, 0xff];

        Assert.Equal("unix:/run/app.sock", Layout(os).Format(address));
        Assert.Null(Layout(os).FormatHost(address));
    }

    [Fact]
    public void Format_AnotherOsIpv6Family_NotTakenForIpv6()
    {
        // Each OS numbers AF_INET6 its own way: macOS's 30 is no family FreeBSD names, nor FreeBSD's 28 macOS's, nor
        // illumos's 26 Linux's.
        byte[] macOs = [.. Family("macos", 30), 0x1f, 0x90, .. new byte[20]];
        byte[] freeBsd = [.. Family("freebsd", 28), 0x1f, 0x90, .. new byte[20]];
        byte[] illumos = [.. Family("illumos", 26), 0x1f, 0x90, .. new byte[20]];

        Assert.Equal("family 30", SocketAddressLayout.FreeBsd.Format(macOs));
        Assert.Equal("family 28", SocketAddressLayout.MacOS.Format(freeBsd));
        Assert.Equal("family 26", SocketAddressLayout.Linux.Format(illumos));
    }

    [Fact]
    public void Format_TooShortForItsFamily_Null()
    {
        Assert.Null(SocketAddressLayout.Linux.Format([2]));
        Assert.Null(SocketAddressLayout.Linux.Format([2, 0, 0x13, 0x88, 127, 0]));
        Assert.Null(SocketAddressLayout.MacOS.Format([28, 30, 0x1f, 0x90, 0, 0, 0, 0, 0, 0]));
    }

    [Fact]
    public void Format_Words_AsTheirBytes()
    {
        // How a script prints the sockaddr: little-endian 64-bit words.
        ulong[] words = [BitConverter.ToUInt64([16, 2, 0x13, 0x88, 127, 0, 0, 1]), 0];

        Assert.Equal("127.0.0.1:5000", SocketAddressLayout.MacOS.Format(words));
    }

    private static SocketAddressLayout Layout(string os) => os switch
    {
        "linux" => SocketAddressLayout.Linux,
        "macos" => SocketAddressLayout.MacOS,
        "freebsd" => SocketAddressLayout.FreeBsd,
        _ => SocketAddressLayout.Illumos,
    };

    /// <summary>The family field: two little-endian bytes on Linux and illumos; a length byte, then one byte, on the BSDs.</summary>
    private static byte[] Family(string os, int family) =>
        os is "macos" or "freebsd" ? [16, (byte)family] : [(byte)family, 0];
}
