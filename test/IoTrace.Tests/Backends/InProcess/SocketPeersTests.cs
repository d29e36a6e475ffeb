using IoTrace.Backends.InProcess;
using Xunit;

namespace IoTrace.Tests.Backends.InProcess;

public sealed class SocketPeersTests
{
    [Fact]
    public void Find_SameLifeInTheSameEpoch_ReturnsThePeer()
    {
        var peers = new SocketPeers();
        peers.Remember(7, 3, peers.Epoch, "127.0.0.1:5000");

        Assert.Equal("127.0.0.1:5000", peers.Find(7, 3));
        Assert.Equal(1, peers.Remembered);
    }

    [Fact]
    public void Find_AnotherLifeOfTheNumber_ReturnsNull()
    {
        var peers = new SocketPeers();
        peers.Remember(7, 3, peers.Epoch, "127.0.0.1:5000");

        Assert.Null(peers.Find(7, 4));
        Assert.Null(peers.Find(8, 3));
    }

    [Fact]
    public void Find_AfterForget_ReturnsNull()
    {
        var peers = new SocketPeers();
        peers.Remember(7, 3, peers.Epoch, "127.0.0.1:5000");

        peers.Forget();

        Assert.Null(peers.Find(7, 3));
    }

    [Fact]
    public void Remember_AskedInAnEpochThatHasEnded_IsIgnored()
    {
        var peers = new SocketPeers();
        var epoch = peers.Epoch;
        peers.Forget();

        peers.Remember(7, 3, epoch, "127.0.0.1:5000");

        Assert.Null(peers.Find(7, 3));
        Assert.Equal(0, peers.Remembered);
    }
}
