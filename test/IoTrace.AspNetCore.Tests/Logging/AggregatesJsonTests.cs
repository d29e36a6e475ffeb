using IoTrace.AspNetCore.Logging;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Logging;

public sealed class AggregatesJsonTests
{
    [Fact]
    public void Write_Aggregates_OneObjectEachWithOnlyTheKnownContext()
    {
        IoAggregate[] aggregates =
        [
            new("pread64", "Program.cs", 12, "App.Get", 7, "/data/\"a\".bin", 2, 8192, TimeSpan.FromTicks(2_501), TimeSpan.FromTicks(1_250)),
            new("openat", null, null, null, null, null, 1, 0, TimeSpan.Zero, TimeSpan.Zero),
        ];

        Assert.Equal(
            """[{"probe":"pread64","file":"Program.cs","line":12,"method":"App.Get","fd":7,"target":"/data/\u0022a\u0022.bin","calls":2,"bytes":8192,"timeMs":0.25,"cpuMs":0.125,"waitMs":0.125},{"probe":"openat","calls":1,"bytes":0,"timeMs":0,"cpuMs":0,"waitMs":0}]""",
            AggregatesJson.Write(aggregates));
    }

    [Fact]
    public void Write_NoAggregates_IsAnEmptyArray()
    {
        Assert.Equal("[]", AggregatesJson.Write([]));
    }
}
