using IoTrace.Etw.Translation;
using Xunit;

namespace IoTrace.Etw.Tests.Translation;

public sealed class WindowsSocketAddressTests
{
    [Fact]
    public void Format_IPv4_AddressAndPort() =>
        Assert.Equal("127.0.0.1:5432", WindowsSocketAddress.Format([2, 0, 0x15, 0x38, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]));

    [Fact]
    public void Format_IPv6Loopback_Bracketed()
    {
        var address = new byte[28];
        address[0] = 23; // AF_INET6 on Windows
        address[2] = 0x13;
        address[3] = 0x88;
        address[23] = 1;

        Assert.Equal("[::1]:5000", WindowsSocketAddress.Format(address));
    }

    [Fact]
    public void Format_IPv4MappedIPv6_AsIPv4()
    {
        var address = new byte[28];
        address[0] = 23;
        address[3] = 80;
        address[18] = 0xFF;
        address[19] = 0xFF;
        (address[20], address[21], address[22], address[23]) = (10, 0, 0, 7);

        Assert.Equal("10.0.0.7:80", WindowsSocketAddress.Format(address));
    }

    [Fact]
    public void Format_OtherFamilyOrShort_Null()
    {
        Assert.Null(WindowsSocketAddress.Format([1, 0, 0x2F]));
        Assert.Null(WindowsSocketAddress.Format([2]));
    }
}
