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
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var metadata = new IoTraceAttribute(strategy);
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
    }
}
