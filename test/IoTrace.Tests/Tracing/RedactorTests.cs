using IoTrace.Tracing;
using Xunit;

namespace IoTrace.Tests.Tracing;

public sealed class RedactorTests
{
    [Theory]
    [InlineData("/srv/orders.db", IoTraceRedaction.FilePaths, "file#")]
    [InlineData("/srv/orders.db", IoTraceRedaction.PeerAddresses, "/srv/orders.db")]
    [InlineData("127.0.0.1:5432", IoTraceRedaction.PeerAddresses, "peer#")]
    [InlineData("[::1]:5432", IoTraceRedaction.All, "peer#")]
    [InlineData("unix:/run/postgresql/.s.PGSQL.5432", IoTraceRedaction.PeerAddresses, "peer#")]
    [InlineData("127.0.0.1:5432", IoTraceRedaction.FilePaths, "127.0.0.1:5432")]
    [InlineData("pipe:[1234]", IoTraceRedaction.All, "pipe:[1234]")]
    [InlineData("socket:[98765]", IoTraceRedaction.All, "socket:[98765]")]
    [InlineData("/srv/orders.db", IoTraceRedaction.None, "/srv/orders.db")]
    public void Target_Redaction_HidesWhatItNames(string target, IoTraceRedaction redaction, string expectedStart)
    {
        var redacted = Redactor.Target(target, redaction)!;

        Assert.StartsWith(expectedStart, redacted, StringComparison.Ordinal);
        if (expectedStart.EndsWith('#'))
        {
            Assert.Matches("^(file|peer)#[0-9a-f]{8}$", redacted);
        }
    }

    [Theory]
    [InlineData(IoTraceRedaction.PeerAddresses, "peer#")]
    [InlineData(IoTraceRedaction.FilePaths, "db.internal")]
    public void Target_HostName_IsRedactedAsAPeer(IoTraceRedaction redaction, string expectedStart) =>
        Assert.StartsWith(expectedStart, Redactor.Target("db.internal", redaction, isHostName: true), StringComparison.Ordinal);

    [Fact]
    public void Target_SameValueTwice_GetsTheSamePseudonymAndDifferentValuesDifferentOnes()
    {
        Assert.Equal(Redactor.Target("/a", IoTraceRedaction.All), Redactor.Target("/a", IoTraceRedaction.All));
        Assert.NotEqual(Redactor.Target("/a", IoTraceRedaction.All), Redactor.Target("/b", IoTraceRedaction.All));
    }

    [Theory]
    [InlineData("Data/OrdersRepository.cs", "Data/OrdersRepository.cs")]
    [InlineData("/home/build/src/Shop/Data/OrdersRepository.cs", "OrdersRepository.cs")]
    public void SourceFile_FilePaths_KeepsRelativePathsAndShortensAbsoluteOnes(string file, string expected) =>
        Assert.Equal(expected, Redactor.SourceFile(file, IoTraceRedaction.FilePaths));
}
