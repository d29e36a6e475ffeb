using IoTrace.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Reports StackExchange.Redis commands in an app's IO traces.</summary>
public static class IoTraceRedisServiceCollectionExtensions
{
    /// <summary>
    /// When the host starts, profiles every <see cref="StackExchange.Redis.IConnectionMultiplexer"/> registered in the
    /// services for IO tracing (<see cref="IoTraceRedis.Instrument"/>): a traced request's Redis commands then appear in
    /// its report as <c>redis</c> rows on the lines that sent them.
    /// </summary>
    /// <param name="services">The services, after <c>AddIoTrace()</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddIoTraceRedis(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RedisInstrumentation>());
        return services;
    }
}
