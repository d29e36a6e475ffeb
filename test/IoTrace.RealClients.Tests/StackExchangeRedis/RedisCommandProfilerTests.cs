using IoTrace.StackExchangeRedis;
using Xunit;

namespace IoTrace.RealClients.Tests.StackExchangeRedis;

/// <summary>The profiler profiles only what a trace records: commands cost nothing outside traces.</summary>
public sealed class RedisCommandProfilerTests
{
    [Fact]
    public void SessionForCurrentFlow_NoTrace_None() => Assert.Null(RedisCommandProfiler.Shared.SessionForCurrentFlow());

    [Fact]
    public void SessionForCurrentFlow_StrategyWithoutRedis_None()
    {
        _ = IoTracer.Trace(Strategy.Setup, () => Assert.Null(RedisCommandProfiler.Shared.SessionForCurrentFlow()));
    }

    [Fact]
    public void SessionForCurrentFlow_SameLineTwice_OneSessionAnotherLineAnother()
    {
        _ = IoTracer.Trace(Strategy.Read, () =>
        {
            var sessions = new List<object?>();
            for (var i = 0; i < 2; i++)
            {
                sessions.Add(RedisCommandProfiler.Shared.SessionForCurrentFlow());
            }

            var other = RedisCommandProfiler.Shared.SessionForCurrentFlow();

            Assert.NotNull(sessions[0]);
            Assert.Same(sessions[0], sessions[1]);
            Assert.NotSame(sessions[0], other);
        });
    }
}
