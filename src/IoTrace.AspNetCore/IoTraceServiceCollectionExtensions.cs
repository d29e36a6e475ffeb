using System.Diagnostics.Metrics;
using IoTrace;
using IoTrace.AspNetCore;
using IoTrace.AspNetCore.Configuration;
using IoTrace.AspNetCore.Reporting;
using IoTrace.Tracing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the IO tracing middleware's services and options.
/// </summary>
public static class IoTraceServiceCollectionExtensions
{
    /// <summary>
    /// Adds IO tracing, configured from the <c>IoTrace</c> section of the app's configuration, so appsettings.json
    /// and environment variables (<c>IoTrace__Strategy=All</c>) work without code. The options are validated when the
    /// host starts, and a change to the configuration applies to the next request.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddIoTrace(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var marker = AddCore(services);
        if (!marker.BindsDefaultSection)
        {
            marker.BindsDefaultSection = true;
            services.AddSingleton<IConfigureOptions<IoTraceOptions>>(sp => new IoTraceConfigureOptions(DefaultSection(sp, marker)));
            services.AddSingleton<IOptionsChangeTokenSource<IoTraceOptions>>(sp => new IoTraceConfigureOptions(DefaultSection(sp, marker)));
        }

        return services;
    }

    /// <summary>
    /// Adds IO tracing configured from the <c>IoTrace</c> section of the app's configuration, then by
    /// <paramref name="configure"/>, which wins over configuration.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Changes the options after configuration is bound.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddIoTrace(this IServiceCollection services, Action<IoTraceOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddIoTrace();
        services.Configure(configure);
        return services;
    }

    /// <summary>
    /// Adds IO tracing configured from <paramref name="section"/> instead of the <c>IoTrace</c> section.
    /// Validation messages name its keys (<c>Section:Strategy</c>); changes to it apply to the next request.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="section">The section holding the IoTrace settings, for example <c>configuration.GetSection("Diagnostics:IoTrace")</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddIoTrace(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        AddCore(services).HasExplicitSection = true;
        var configure = new IoTraceConfigureOptions(section);
        services.AddSingleton<IConfigureOptions<IoTraceOptions>>(configure);
        services.AddSingleton<IOptionsChangeTokenSource<IoTraceOptions>>(configure);
        return services;
    }

    /// <summary>
    /// Reports the operations of a client that does its socket IO on threads of its own, from the activities it asks
    /// for in the caller's flow: each Client or Producer activity of the source named <paramref name="name"/> asked for
    /// in a traced request is counted in an <c>activity</c> row on the line that asked (<see cref="IoTracer.AddActivitySource"/>,
    /// called when <c>UseIoTrace()</c> builds the middleware). NATS.Net's and RabbitMQ.Client's publishes are reported
    /// without this. Name no client that does its IO in the request's flow (Npgsql, HttpClient): its activities would
    /// count that IO twice.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The source's name, or a prefix of names followed by <c>*</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or white space.</exception>
    public static IServiceCollection AddIoTraceActivitySource(this IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        services.AddSingleton(new ActivitySourceRegistration(name.Trim()));
        return services;
    }

    private static IoTraceMarkerService AddCore(IServiceCollection services)
    {
        var existing = services.FirstOrDefault(d => d.ServiceType == typeof(IoTraceMarkerService) && !d.IsKeyedService);
        if (existing?.ImplementationInstance is IoTraceMarkerService marker)
        {
            return marker;
        }

        marker = new IoTraceMarkerService();
        services.AddSingleton(marker);

        // What reads each traced request's report besides the log: the meter, the request's span.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITracedRequestObserver, IoTraceMetrics>(sp => new IoTraceMetrics(sp.GetService<IMeterFactory>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITracedRequestObserver, IoTraceActivityEnricher>());

        // The host's tracer, with the backends the app registered (AddEbpfBackend); disposed with the host.
        services.TryAddSingleton(sp => new Tracer(sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance, sp.GetServices<IoTraceBackendProvider>()));
        services.AddOptions<IoTraceOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<IoTraceOptions>, IoTraceOptionsValidator>());
        return marker;
    }

    // Resolved when the options are first built, so an AddIoTrace(section) made after AddIoTrace() still replaces it.
    private static IConfigurationSection? DefaultSection(IServiceProvider services, IoTraceMarkerService marker) =>
        marker.HasExplicitSection ? null : services.GetService<IConfiguration>()?.GetSection(IoTraceOptions.DefaultSectionName);
}
