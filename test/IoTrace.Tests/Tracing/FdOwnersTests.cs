using IoTrace.Attribution;
using IoTrace.Tracing;
using IoTrace.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Tests.Tracing;

/// <summary>Which trace waits on an fd. Process-wide: each test uses fd numbers no real file gets in this process.</summary>
public sealed class FdOwnersTests : IDisposable
{
    private static int s_nextFd = 6000;

    private readonly TraceSession _session = new FakeBackend().Session(Strategy.Read, IoTraceFeatures.Calls | IoTraceFeatures.Bytes);
    private readonly int _fd = Interlocked.Increment(ref s_nextFd);

    // Other tests count the process's awaited fds.
    public void Dispose() => FdOwners.Clear(_fd);

    [Fact]
    public void Set_NoCloseSinceTheCallBegan_MakesTheTraceTheOwner()
    {
        var closes = FdOwners.Closes(_fd);

        FdOwners.Set(_fd, _session, SourceLocation.Unknown, closes);

        Assert.Same(_session, FdOwners.Get(_fd)?.Session);
    }

    [Fact]
    public void Set_FdClosedWhileTheCallRan_KeepsNoOwner()
    {
        // The call returned EAGAIN, another thread closed the fd, then the hook recorded the EAGAIN: the number may
        // already name another file, whose IO must not be charged to this trace.
        var closes = FdOwners.Closes(_fd);
        FdOwners.Clear(_fd);

        FdOwners.Set(_fd, _session, SourceLocation.Unknown, closes);

        Assert.Null(FdOwners.Get(_fd));
        Assert.Equal(closes + 1, FdOwners.Closes(_fd));
    }

    [Fact]
    public void Clear_AfterSet_ForgetsTheOwner()
    {
        FdOwners.Set(_fd, _session, SourceLocation.Unknown, FdOwners.Closes(_fd));

        FdOwners.Clear(_fd);

        Assert.Null(FdOwners.Get(_fd));
    }

    [Fact]
    public void Consume_TheOwnersRetryMade_ForgetsTheOwner()
    {
        FdOwners.Set(_fd, _session, SourceLocation.Unknown, FdOwners.Closes(_fd));

        FdOwners.Consume(_fd, FdOwners.Get(_fd)!);

        Assert.Null(FdOwners.Get(_fd));
    }

    [Fact]
    public void Consume_AnotherOwnerSinceThen_KeepsTheNewOne()
    {
        FdOwners.Set(_fd, _session, SourceLocation.Unknown, FdOwners.Closes(_fd));
        var first = FdOwners.Get(_fd)!;
        FdOwners.Set(_fd, _session, new SourceLocation("/app/Program.cs", 3, "Main", isApplication: true), FdOwners.Closes(_fd));

        FdOwners.Consume(_fd, first);

        Assert.Equal(3, FdOwners.Get(_fd)?.Site.Line);
    }
}
