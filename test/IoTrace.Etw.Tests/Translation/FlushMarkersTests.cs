using IoTrace.Etw.Translation;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace IoTrace.Etw.Tests.Translation;

public sealed class FlushMarkersTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void TryPass_MarkerAfterTwoFlushes_GivesTheLastFlushBeforeIt()
    {
        var markers = new FlushMarkers(_time);
        var first = markers.BeforeFlush();
        _time.Advance(TimeSpan.FromTicks(10));
        var second = markers.BeforeFlush();
        _time.Advance(TimeSpan.FromTicks(10));
        var third = markers.BeforeFlush();

        Assert.True(markers.TryPass(third - 1, out var watermark));
        Assert.Equal(second, watermark);
        Assert.True(first < second);

        // The next marker, made after the third flush, passes it.
        Assert.True(markers.TryPass(third + 1, out watermark));
        Assert.Equal(third, watermark);
        Assert.False(markers.TryPass(third + 2, out _));
    }
}
