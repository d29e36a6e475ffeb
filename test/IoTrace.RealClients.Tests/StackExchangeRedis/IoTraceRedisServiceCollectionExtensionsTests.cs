using IoTrace.RealClients.Tests.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;
using Xunit;

namespace IoTrace.RealClients.Tests.StackExchangeRedis;

/// <summary>AddIoTraceRedis instruments the connections the app registered, when the host starts.</summary>
public sealed class IoTraceRedisServiceCollectionExtensionsTests(RedisServer redis)
{
    [Fact]
    public async Task AddIoTraceRedis_ConnectionInTheServices_ItsCommandsReportedOnceTheHostStarted()
    {
        await redis.RequireAsync();
        var builder = Host.CreateApplicationBuilder();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        builder.Services.AddSingleton<IConnectionMultiplexer>(connection);
        builder.Services.AddIoTraceRedis().AddIoTraceRedis();
        using var host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);

        var report = await IoTracer.TraceAsync(Strategy.All, async () => _ = await connection.GetDatabase().StringGetAsync("iotrace-di"));

        await host.StopAsync(TestContext.Current.CancellationToken);
        var row = Assert.Single(report.Aggregates);
        Assert.Equal(("redis", $"GET {redis.Endpoint}", 1L), (row.Probe, row.Target, row.Calls));
        Assert.Single(host.Services.GetServices<IHostedService>());
    }
}
