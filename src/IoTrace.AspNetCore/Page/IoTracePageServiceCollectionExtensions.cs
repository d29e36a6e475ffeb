using IoTrace.AspNetCore;
using IoTrace.AspNetCore.Page;
using IoTrace.AspNetCore.Reporting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the page of the last traced requests (<c>app.MapIoTracePage()</c>).</summary>
public static class IoTracePageServiceCollectionExtensions
{
    /// <summary>
    /// Keeps the reports of the last traced requests in memory (at most <see cref="IoTracePageOptions.Capacity"/>) for
    /// the page <c>app.MapIoTracePage()</c> serves. Call it with <c>AddIoTrace()</c>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Changes the page's options.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddIoTracePage(this IServiceCollection services, Action<IoTracePageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<IoTracePageOptions>()
            .Validate(o => o.Capacity > 0, $"{nameof(IoTracePageOptions)}.{nameof(IoTracePageOptions.Capacity)} must be a positive count.");
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.TryAddSingleton(sp => new RecentRequests(
            sp.GetRequiredService<IOptions<IoTracePageOptions>>().Value.Capacity,
            sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITracedRequestObserver, RecentRequests>(sp => sp.GetRequiredService<RecentRequests>()));
        return services;
    }
}
