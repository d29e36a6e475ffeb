namespace IoTrace.AspNetCore;

/// <summary>
/// An endpoint's own IO tracing settings, over the app's configured ones: <c>[IoTrace(Strategy.Write)]</c> or
/// <c>[IoTrace(CallBudget = 40)]</c> on a controller or action, or <c>.WithIoTrace(...)</c> on a minimal API endpoint.
/// Whether a request is traced at all (paths, sampling, <see cref="IoTraceOptions.Enabled"/>) stays the options'. Needs
/// <c>UseRouting</c> before <c>UseIoTrace</c>, so the endpoint is known when the request reaches the middleware.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class IoTraceAttribute : Attribute
{
    /// <summary>Keeps the app's strategy; set <see cref="CallBudget"/> or <see cref="ByteBudget"/>.</summary>
    public IoTraceAttribute()
    {
    }

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

    /// <summary>What to record for this endpoint's requests; <see langword="null"/>: the app's configured strategy.</summary>
    public Strategy? Strategy { get; }

    /// <summary>
    /// The IO calls a request of this endpoint may make before it logs a warning; 0 (the default): the app's
    /// <see cref="IoTraceOptions.CallBudget"/>.
    /// </summary>
    public long CallBudget
    {
        get;
        set => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A budget is 0 (the app's) or a positive count.");
    }

    /// <summary>
    /// The bytes a request of this endpoint may read and write before it logs a warning; 0 (the default): the app's
    /// <see cref="IoTraceOptions.ByteBudget"/>.
    /// </summary>
    public long ByteBudget
    {
        get;
        set => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A budget is 0 (the app's) or a positive count.");
    }
}
