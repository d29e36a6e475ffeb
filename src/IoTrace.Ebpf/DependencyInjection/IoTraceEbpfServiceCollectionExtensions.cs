using IoTrace;
using IoTrace.Ebpf;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the eBPF backend with an app's IO tracing.</summary>
public static class IoTraceEbpfServiceCollectionExtensions
{
    /// <summary>
    /// Lets IO tracing use the eBPF backend: <c>"Backend": "Auto"</c> prefers it where it can run (the in-process backend
    /// serves while it attaches), and <c>"Backend": "Ebpf"</c> requires it, failing startup with the reason where it cannot.
    /// </summary>
    /// <param name="services">The services, after <c>AddIoTrace()</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddEbpfBackend(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!services.Any(d => ReferenceEquals(d.ImplementationInstance, IoTraceEbpf.Backend)))
        {
            services.AddSingleton(IoTraceEbpf.Backend);
        }

        return services;
    }
}
