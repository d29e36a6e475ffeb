using IoTrace;
using IoTrace.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Per-endpoint IO tracing settings, as <c>.WithHttpLogging(...)</c> sets HTTP logging's.</summary>
public static class IoTraceEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Traces the endpoint's requests with <paramref name="strategy"/> instead of the app's configured strategy, for
    /// example <c>app.MapPost("/upload", ...).WithIoTrace(Strategy.Write)</c>.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint convention builder.</typeparam>
    /// <param name="builder">The endpoint's builder.</param>
    /// <param name="strategy">What to record for this endpoint.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static TBuilder WithIoTrace<TBuilder>(this TBuilder builder, Strategy strategy)
        where TBuilder : IEndpointConventionBuilder => builder.WithIoTrace(new IoTraceAttribute(strategy));

    /// <summary>
    /// Gives the endpoint its own IO tracing settings, for example
    /// <c>app.MapGet("/orders", ...).WithIoTrace(new IoTraceAttribute(Strategy.All) { CallBudget = 40 })</c>.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint convention builder.</typeparam>
    /// <param name="builder">The endpoint's builder.</param>
    /// <param name="settings">The endpoint's settings.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static TBuilder WithIoTrace<TBuilder>(this TBuilder builder, IoTraceAttribute settings)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        builder.Add(endpoint => endpoint.Metadata.Add(settings));
        return builder;
    }
}
