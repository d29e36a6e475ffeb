using IoTrace.AspNetCore.Reporting;
using IoTrace.Testing;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers an <see cref="IoTraceCollector"/> with an app's IO tracing, for tests.</summary>
public static class IoTraceTestingServiceCollectionExtensions
{
    /// <summary>
    /// Collects the report of every request the app's IO tracing middleware traces into an <see cref="IoTraceCollector"/>,
    /// a singleton of the app's services: <c>app.Services.GetRequiredService&lt;IoTraceCollector&gt;()</c>. Call it after
    /// <c>AddIoTrace()</c> (in a <c>WebApplicationFactory</c>, from <c>ConfigureTestServices</c>).
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddIoTraceCollector(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!services.Any(d => d.ServiceType == typeof(IoTraceCollector)))
        {
            var collector = new IoTraceCollector();
            services.AddSingleton(collector);
            services.AddSingleton<ITracedRequestObserver>(new IoTraceCollector.Observer(collector));
        }

        return services;
    }
}
