using IoTrace.Tracing;
using Xunit;

namespace IoTrace.Tests.Tracing;

/// <summary>The process's shared connections by fd. Process-wide: each test uses fd numbers no real file gets in this process.</summary>
public sealed class SharedConnectionsTests : IDisposable
{
    private static int s_nextFd = 7000;

    private readonly int _fd = Interlocked.Increment(ref s_nextFd);

    public void Dispose() => SharedConnections.Forget(_fd);

    [Fact]
    public void Watch_SameLifeTwice_OneConnection()
    {
        var first = SharedConnections.Watch(_fd, "127.0.0.1:6379");

        Assert.Same(first, SharedConnections.Watch(_fd, "127.0.0.1:6379"));
        Assert.Same(first, SharedConnections.Get(_fd));
    }

    [Fact]
    public void Forget_TheFdClosed_ConnectionEndsAndTheNumberIsNoLongerIt()
    {
        var connection = SharedConnections.Watch(_fd, "127.0.0.1:6379")!;

        SharedConnections.Forget(_fd);

        Assert.True(connection.IsClosed);
        Assert.Null(SharedConnections.Get(_fd));
    }

    [Fact]
    public void Watch_AfterTheFdWasClosedAndOpenedAgain_ANewConnectionForTheNewLife()
    {
        var before = SharedConnections.Watch(_fd, "127.0.0.1:6379")!;
        FdOwners.Clear(_fd);
        SharedConnections.Forget(_fd);

        var after = SharedConnections.Watch(_fd, "127.0.0.1:6380")!;

        Assert.NotSame(before, after);
        Assert.Equal(before.Generation + 1, after.Generation);
        Assert.Equal("127.0.0.1:6380", after.Peer);
    }
}
