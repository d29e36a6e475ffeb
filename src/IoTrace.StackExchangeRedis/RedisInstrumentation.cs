using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace IoTrace.StackExchangeRedis;

/// <summary>Instruments the app's registered Redis connections as the host starts.</summary>
internal sealed class RedisInstrumentation(IEnumerable<IConnectionMultiplexer> connections) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var connection in connections)
        {
            IoTraceRedis.Instrument(connection);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
