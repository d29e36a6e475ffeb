using IoTrace;
using IoTrace.DTrace;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the dtrace backend with an app's IO tracing.</summary>
public static class IoTraceDTraceServiceCollectionExtensions
{
    /// <summary>
    /// Lets IO tracing use the dtrace backend: <c>"Backend": "Auto"</c> prefers it where it can run (the in-process
    /// backend serves while it attaches), and <c>"Backend": "DTrace"</c> requires it, failing startup with the reason
    /// where it cannot (not root, dtrace missing).
    /// </summary>
    /// <param name="services">The services, after <c>AddIoTrace()</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddDTraceBackend(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!services.Any(d => ReferenceEquals(d.ImplementationInstance, IoTraceDTrace.Backend)))
        {
            services.AddSingleton(IoTraceDTrace.Backend);
        }

        return services;
    }
}
