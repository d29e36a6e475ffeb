using IoTrace.Attribution;
using IoTrace.Ebpf.Attribution;
using Xunit;

namespace IoTrace.Ebpf.Tests.Attribution;

/// <summary>Which peer takes which request's line: only one line per peer, IP literals or names with known addresses, never a guess.</summary>
public sealed class HttpClientPeersTests
{
    private static readonly SourceLocation s_first = new("/app/Api.cs", 10, "Get", isApplication: true);
    private static readonly SourceLocation s_second = new("/app/Api.cs", 20, "Get", isApplication: true);

    [Fact]
    public void Lines_OneLinePerPeer_EachPeerTakesItsLine()
    {
        var lines = HttpClientPeers.Lines([new("127.0.0.1", 5000, s_first), new("127.0.0.1", 5000, s_first), new("[::1]", 6000, s_second)]);

        Assert.Equal([("127.0.0.1:5000", 10), ("[::1]:6000", 20)], lines.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => (l.Key, l.Value.Line ?? 0)));
    }

    [Fact]
    public void Lines_OnePeerFromTwoLines_PeerHasNoLine()
    {
        var lines = HttpClientPeers.Lines([new("127.0.0.1", 5000, s_first), new("127.0.0.1", 5000, s_second), new("127.0.0.1", 5001, s_second)]);

        Assert.Equal(["127.0.0.1:5001"], lines.Keys);
    }

    [Fact]
    public void Lines_RequestWithoutLine_PeerHasNoLine()
    {
        var lines = HttpClientPeers.Lines([new("127.0.0.1", 5000, s_first), new("127.0.0.1", 5000, null)]);

        Assert.Empty(lines);
    }

    [Fact]
    public void Lines_DnsNameOnThePort_NoPeerOfThatPortHasALine()
    {
        // localhost:5000 may well be 127.0.0.1:5000: which request a socket served is unknown.
        var lines = HttpClientPeers.Lines([new("127.0.0.1", 5000, s_first), new("localhost", 5000, s_second), new("10.0.0.1", 80, s_second)]);

        Assert.Equal(["10.0.0.1:80"], lines.Keys);
    }

    [Fact]
    public void Lines_DnsNameWithAKnownAddress_ThatPeerTakesTheLine()
    {
        var lines = HttpClientPeers.Lines([new("localhost", 5000, s_first)], Addresses(("localhost", 5000, "127.0.0.1")));

        Assert.Equal([("127.0.0.1:5000", 10)], lines.Select(l => (l.Key, l.Value.Line ?? 0)));
    }

    [Fact]
    public void Lines_DnsNameWithTwoAddresses_BothPeersTakeTheLine()
    {
        var lines = HttpClientPeers.Lines([new("api.local", 443, s_first)], Addresses(("api.local", 443, "10.0.0.1"), ("api.local", 443, "::1")));

        Assert.Equal(["10.0.0.1:443", "[::1]:443"], lines.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Lines_DnsNameAndALiteralFromAnotherLineReachTheSamePeer_PeerHasNoLine()
    {
        var lines = HttpClientPeers.Lines([new("localhost", 5000, s_first), new("127.0.0.1", 5000, s_second)], Addresses(("localhost", 5000, "127.0.0.1")));

        Assert.Empty(lines);
    }

    [Fact]
    public void Lines_KnownDnsNameOnThePort_PeersItDidNotReachHaveNoLine()
    {
        // The name may have reached 10.0.0.2 over a connection made before the listener ran: not a guess to make.
        var lines = HttpClientPeers.Lines([new("localhost", 5000, s_first), new("10.0.0.2", 5000, s_second), new("10.0.0.2", 80, s_second)], Addresses(("localhost", 5000, "127.0.0.1")));

        Assert.Equal(["10.0.0.2:80", "127.0.0.1:5000"], lines.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Lines_OneNameKnownOneNotOnThePort_NoPeerOfThatPortHasALine()
    {
        var lines = HttpClientPeers.Lines([new("localhost", 5000, s_first), new("other.local", 5000, s_first)], Addresses(("localhost", 5000, "127.0.0.1")));

        Assert.Empty(lines);
    }

    [Theory]
    [InlineData("127.0.0.1", 80, "127.0.0.1:80")]
    [InlineData("[::1]", 443, "[::1]:443")]
    [InlineData("::ffff:10.1.2.3", 8080, "10.1.2.3:8080")]
    [InlineData("example.com", 80, null)]
    public void PeerOf_Host_FormatsAsTheKernelTargets(string host, int port, string? expected) =>
        Assert.Equal(expected, HttpClientPeers.PeerOf(host, port));

    private static Func<string, int, IReadOnlyList<string>> Addresses(params (string Host, int Port, string Address)[] connections) =>
        (host, port) => [.. connections.Where(c => c.Host == host && c.Port == port).Select(c => c.Address)];
}
