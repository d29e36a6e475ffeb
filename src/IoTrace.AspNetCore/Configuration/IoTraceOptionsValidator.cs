using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTrace.AspNetCore.Configuration;

/// <summary>
/// Checks <see cref="IoTraceOptions"/> at startup and on every reload, without side effects: whether the chosen backend
/// runs is found out when <c>UseIoTrace</c> applies the options (<see cref="IoTraceSettings"/>). Each failure names its
/// configuration key (<c>IoTrace:Strategy</c>) and the allowed values.
/// </summary>
internal sealed class IoTraceOptionsValidator : IValidateOptions<IoTraceOptions>
{
    public ValidateOptionsResult Validate(string? name, IoTraceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>(options.ConfigurationErrors);
        var section = options.ConfigurationPath;

        if (!Enum.IsDefined(options.Strategy))
        {
            failures.Add($"{section}:{nameof(options.Strategy)}: '{options.Strategy}' is not a strategy. Allowed values: {string.Join(", ", Enum.GetNames<Strategy>())}.");
        }

        if (options.Formatter is null)
        {
            failures.Add($"{section}:{nameof(options.Formatter)}: a formatter is required. Allowed values: {string.Join(", ", IoTraceFormatters.Names)}, or a delegate in code.");
        }

        if (!Enum.IsDefined(options.LogLevel))
        {
            failures.Add($"{section}:{nameof(options.LogLevel)}: '{options.LogLevel}' is not a log level. Allowed values: {string.Join(", ", Enum.GetNames<LogLevel>())}.");
        }

        if ((options.Features & ~IoTraceFeatures.All) != 0)
        {
            failures.Add($"{section}:{nameof(options.Features)}: '{options.Features}' is not a list of features. Allowed values: {IoTraceConfigurationBinder.FeatureSyntax}.");
        }

        if ((options.Redaction & ~IoTraceRedaction.All) != 0)
        {
            failures.Add($"{section}:{nameof(options.Redaction)}: '{options.Redaction}' is not a list of things to redact. Allowed values: {IoTraceConfigurationBinder.RedactionSyntax}.");
        }

        ValidateBackend(options, section, failures);
        ValidatePatterns(options.IncludePaths, $"{section}:{nameof(options.IncludePaths)}", failures);
        ValidatePatterns(options.ExcludePaths, $"{section}:{nameof(options.ExcludePaths)}", failures);

        for (var i = 0; i < options.SkippedNamespaces.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(options.SkippedNamespaces[i]))
            {
                failures.Add($"{section}:{nameof(options.SkippedNamespaces)}:{i}: a namespace prefix cannot be empty.");
            }
        }

        if (options.MinimumCalls < 0)
        {
            failures.Add($"{section}:{nameof(options.MinimumCalls)}: '{options.MinimumCalls}' is negative. Allowed values: 0 (no threshold) or a positive count.");
        }

        if (options.MinimumBytes < 0)
        {
            failures.Add($"{section}:{nameof(options.MinimumBytes)}: '{options.MinimumBytes}' is negative. Allowed values: 0 (no threshold) or a positive count.");
        }

        foreach (var (key, value) in new (string, long)[]
        {
            (nameof(options.CallBudget), options.CallBudget),
            (nameof(options.ByteBudget), options.ByteBudget),
            (nameof(options.RepeatedOpenThreshold), options.RepeatedOpenThreshold),
            (nameof(options.ChattyIoThreshold), options.ChattyIoThreshold),
            (nameof(options.ChattyIoBytes), options.ChattyIoBytes),
            (nameof(options.RoundTripThreshold), options.RoundTripThreshold),
        })
        {
            if (value < 0)
            {
                failures.Add($"{section}:{key}: '{value}' is negative. Allowed values: 0 (off) or a positive count.");
            }
        }

        if (!(options.SamplingRatio is >= 0 and <= 1))
        {
            failures.Add($"{section}:{nameof(options.SamplingRatio)}: '{options.SamplingRatio.ToString(CultureInfo.InvariantCulture)}' is not a ratio. Allowed values: {IoTraceConfigurationBinder.RatioSyntax}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateBackend(IoTraceOptions options, string section, List<string> failures)
    {
        if (!Enum.IsDefined(options.Backend))
        {
            failures.Add($"{section}:{nameof(options.Backend)}: '{options.Backend}' is not a backend. Allowed values: {string.Join(", ", Enum.GetNames<IoTraceBackend>())}.");
        }
    }

    private static void ValidatePatterns(IList<string> patterns, string key, List<string> failures)
    {
        for (var i = 0; i < patterns.Count; i++)
        {
            if (!Filtering.PathPattern.TryParse(patterns[i], out _, out var error))
            {
                failures.Add($"{key}:{i}: {error}. {Filtering.PathPattern.Syntax}.");
            }
        }
    }
}
