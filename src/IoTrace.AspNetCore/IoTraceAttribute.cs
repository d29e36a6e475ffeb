namespace IoTrace.AspNetCore;

/// <summary>
/// Traces an endpoint's requests with its own strategy, over the app's configured one: <c>[IoTrace(Strategy.Write)]</c>
/// on a controller or action, or <c>.WithIoTrace(Strategy.Write)</c> on a minimal API endpoint. Whether a request is
/// traced at all (paths, sampling, <see cref="IoTraceOptions.Enabled"/>) stays the options'. Needs <c>UseRouting</c>
/// before <c>UseIoTrace</c>, so the endpoint is known when the request reaches the middleware.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class IoTraceAttribute : Attribute
{
    /// <summary>Traces the endpoint's requests with <paramref name="strategy"/>.</summary>
    /// <param name="strategy">What to record for this endpoint.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="strategy"/> is not a strategy.</exception>
    public IoTraceAttribute(Strategy strategy)
    {
        if (!Enum.IsDefined(strategy))
        {
            throw new ArgumentOutOfRangeException(nameof(strategy), strategy, $"Allowed values: {string.Join(", ", Enum.GetNames<Strategy>())}.");
        }

        Strategy = strategy;
    }

    /// <summary>What to record for this endpoint's requests.</summary>
    public Strategy Strategy { get; }
}
