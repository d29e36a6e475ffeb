using IoTrace.Core;
using IoTrace.Ebpf.Attribution;
using Xunit;

namespace IoTrace.Ebpf.Tests.Attribution;

/// <summary>Which peer takes which request's line: only one line per peer, IP literals only, never a guess.</summary>
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

    [Theory]
    [InlineData("127.0.0.1", 80, "127.0.0.1:80")]
    [InlineData("[::1]", 443, "[::1]:443")]
    [InlineData("::ffff:10.1.2.3", 8080, "10.1.2.3:8080")]
    [InlineData("example.com", 80, null)]
    public void PeerOf_Host_FormatsAsTheKernelTargets(string host, int port, string? expected) =>
        Assert.Equal(expected, HttpClientPeers.PeerOf(host, port));
}
