using IoTrace.Attribution;
using Xunit;

namespace IoTrace.Tests.Attribution;

public sealed class HttpClientConnectionsTests
{
    [Fact]
    public void Note_SameHostTwoAddresses_KeepsBothOnce()
    {
        var host = NewHost();

        HttpClientConnections.Note(host, 443, "10.0.0.1");
        HttpClientConnections.Note(host, 443, "10.0.0.2");
        HttpClientConnections.Note(host, 443, "10.0.0.1");

        Assert.Equal(["10.0.0.1", "10.0.0.2"], HttpClientConnections.AddressesOf(host, 443));
    }

    [Fact]
    public void AddressesOf_OtherPortOrUnknownHost_IsEmpty()
    {
        var host = NewHost();
        HttpClientConnections.Note(host, 443, "10.0.0.1");

        Assert.Empty(HttpClientConnections.AddressesOf(host, 80));
        Assert.Empty(HttpClientConnections.AddressesOf(NewHost(), 443));
    }

    [Fact]
    public void Note_ManyAddressesForOneHost_KeepsAtMostSixteen()
    {
        var host = NewHost();

        for (var i = 0; i < 40; i++)
        {
            HttpClientConnections.Note(host, 443, $"10.0.1.{i}");
        }

        Assert.Equal(16, HttpClientConnections.AddressesOf(host, 443).Count);
    }

    private static string NewHost() => $"{Guid.NewGuid():N}.test";
}
