using IoTrace;
using IoTrace.AspNetCore;
using IoTrace.AspNetCore.Configuration;
using IoTrace.AspNetCore.Logging;
using IoTrace.AspNetCore.Reporting;
using IoTrace.Tracing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Adds the IO tracing middleware to a request pipeline.
/// </summary>
public static class IoTraceApplicationBuilderExtensions
{
    /// <summary>How long the host's shutdown waits, at most, for reports still waiting for a kernel backend's flush.</summary>
    private static readonly TimeSpan s_pendingReportsAtShutdown = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Traces the IO of each request that passes this point and logs one report per request (category
    /// <c>IoTrace</c>, event <c>RequestTraced</c>) when its response has completed. Place it after <c>UseRouting</c>
    /// to have route patterns in the reports, and before the middleware whose IO should count.
    /// </summary>
    /// <param name="app">The application builder.</param>
    /// <returns><paramref name="app"/>, for chaining.</returns>
    /// <exception cref="InvalidOperationException"><c>AddIoTrace</c> was not called.</exception>
    public static IApplicationBuilder UseIoTrace(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return UseIoTraceCore(app, configure: null);
    }

    /// <summary>
    /// Traces the IO of each request that passes this point, with <paramref name="configure"/> applied on top of
    /// the configured options (and re-applied whenever configuration changes), for example
    /// <c>app.UseIoTrace(o =&gt; o.Strategy = Strategy.Write)</c>.
    /// </summary>
    /// <param name="app">The application builder.</param>
    /// <param name="configure">Changes a copy of the options for this middleware.</param>
    /// <returns><paramref name="app"/>, for chaining.</returns>
    /// <exception cref="InvalidOperationException"><c>AddIoTrace</c> was not called.</exception>
    public static IApplicationBuilder UseIoTrace(this IApplicationBuilder app, Action<IoTraceOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(configure);
        return UseIoTraceCore(app, configure);
    }

    private static IApplicationBuilder UseIoTraceCore(IApplicationBuilder app, Action<IoTraceOptions>? configure)
    {
        var services = app.ApplicationServices;
        if (services.GetService<IoTraceMarkerService>() is null)
        {
            throw new InvalidOperationException(
                "Unable to find the required services. Call 'builder.Services.AddIoTrace()' (or 'services.AddIoTrace()') before 'app.UseIoTrace()'.");
        }

        return app.Use(next =>
        {
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(IoTraceMiddlewareLog.CategoryName);

            // The host's own tracer: it logs the backend it picks, and its failures, through the app's logging. The
            // first settings get that backend ready, so an explicit backend that cannot run stops the app here.
            var tracer = services.GetRequiredService<Tracer>();
            foreach (var source in services.GetServices<ActivitySourceRegistration>())
            {
                IoTracer.AddActivitySource(source.Name);
            }

            var tracker = new IoTraceOptionsTracker(
                services.GetRequiredService<IOptionsMonitor<IoTraceOptions>>(),
                services.GetRequiredService<IOptionsFactory<IoTraceOptions>>(),
                services.GetServices<IValidateOptions<IoTraceOptions>>(),
                services.GetServices<IOptionsChangeTokenSource<IoTraceOptions>>(),
                services.GetService<IHostEnvironment>()?.ContentRootPath ?? Environment.CurrentDirectory,
                tracer,
                logger,
                configure);
            var middleware = new IoTraceMiddleware(next, tracker, tracer, services.GetServices<ITracedRequestObserver>(), logger);
            services.GetService<IHostApplicationLifetime>()?.ApplicationStopped.Register(() =>
            {
                // The server has finished its requests; with a kernel backend their last reports may still wait for a flush.
                middleware.WaitForPendingReports(s_pendingReportsAtShutdown);
                tracker.Dispose();
            });
            return middleware.InvokeAsync;
        });
    }
}
