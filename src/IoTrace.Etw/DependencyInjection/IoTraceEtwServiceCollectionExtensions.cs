using IoTrace.Etw;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the ETW backend with an app's IO tracing.</summary>
public static class IoTraceEtwServiceCollectionExtensions
{
    /// <summary>
    /// Lets IO tracing use the ETW backend on Windows: <c>"Backend": "Auto"</c> prefers it where it can run (an elevated
    /// process), and <c>"Backend": "Etw"</c> requires it, failing startup with the reason where it cannot.
    /// </summary>
    /// <param name="services">The services, after <c>AddIoTrace()</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddEtwBackend(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!services.Any(d => ReferenceEquals(d.ImplementationInstance, IoTraceEtw.Backend)))
        {
            services.AddSingleton(IoTraceEtw.Backend);
        }

        return services;
    }
}
