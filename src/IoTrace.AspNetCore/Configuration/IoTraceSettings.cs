using System.Buffers.Binary;
using System.Diagnostics;
using IoTrace.AspNetCore.Filtering;
using IoTrace.AspNetCore.Reporting;
using IoTrace.Backends.Unavailable;
using IoTrace.Tracing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTrace.AspNetCore.Configuration;

/// <summary>
/// Valid <see cref="IoTraceOptions"/> compiled for the request path: parsed path patterns, the start options the
/// core needs, and whether a backend can record anything at all. Immutable; replaced as a whole on reload.
/// Compiling them gets the chosen backend ready: an explicit one that cannot run fails them, with the key and the reason.
/// </summary>
internal sealed class IoTraceSettings
{
    // Requests are sampled on 56 bits: the right-most 7 bytes of a W3C trace id, random by Trace Context level 2.
    private const ulong SampleSpace = 1UL << 56;

    private readonly PathFilter _paths;
    private readonly ulong _sampleBelow;

    private IoTraceSettings(IoTraceOptions source, IoTraceOptions effective, PathFilter paths, IoTraceStartOptions startOptions, bool supported)
    {
        Source = source;
        _paths = paths;
        StartOptions = startOptions;
        Strategy = effective.Strategy;
        Formatter = effective.Formatter;
        LogLevel = effective.LogLevel;
        MinimumCalls = effective.MinimumCalls;
        MinimumBytes = effective.MinimumBytes;
        ServerTiming = effective.ServerTiming;
        Warnings = new IoWarningThresholds(effective.CallBudget, effective.ByteBudget, effective.RepeatedOpenThreshold, effective.ChattyIoThreshold, effective.ChattyIoBytes, effective.RoundTripThreshold);
        _sampleBelow = (ulong)(effective.SamplingRatio * SampleSpace);

        // Where no backend runs, reports would be empty: skip tracing altogether (the tracer logged why, once).
        Enabled = effective.Enabled && supported;
    }

    /// <summary>The options monitor's instance these settings were compiled from, to notice a reload by reference.</summary>
    public IoTraceOptions Source { get; }

    public bool Enabled { get; }

    public Strategy Strategy { get; }

    public IoTraceFormatter Formatter { get; }

    public LogLevel LogLevel { get; }

    public long MinimumCalls { get; }

    public long MinimumBytes { get; }

    /// <summary>Whether responses carry their IO as a Server-Timing entry.</summary>
    public bool ServerTiming { get; }

    /// <summary>The budgets and the thresholds of the pattern warnings.</summary>
    public IoWarningThresholds Warnings { get; }

    public IoTraceStartOptions StartOptions { get; }

    /// <summary>
    /// Compiles validated options; <paramref name="effective"/> is <paramref name="source"/> or a copy changed by
    /// <c>UseIoTrace(configure)</c>. Chooses their backend on <paramref name="tracer"/> and gets it ready.
    /// </summary>
    /// <exception cref="OptionsValidationException">The options name a backend that cannot run in this process.</exception>
    public static IoTraceSettings Create(IoTraceOptions source, IoTraceOptions effective, string contentRoot, Tracer tracer)
    {
        var supported = !effective.Enabled || StartBackend(effective, tracer);

        var startOptions = new IoTraceStartOptions { RootPath = contentRoot, Features = effective.Features, Redaction = effective.Redaction, IncludeRuntimeIo = effective.IncludeRuntimeIo };
        startOptions.SkippedNamespaces.Clear();
        foreach (var prefix in effective.SkippedNamespaces)
        {
            startOptions.SkippedNamespaces.Add(prefix);
        }

        var paths = effective.IncludePaths.Count == 0 && effective.ExcludePaths.Count == 0
            ? PathFilter.All
            : new PathFilter(Parse(effective.IncludePaths), Parse(effective.ExcludePaths));
        return new IoTraceSettings(source, effective, paths, startOptions, supported);
    }

    /// <summary>The name the core gives a backend, or <see langword="null"/> for <see cref="IoTraceBackend.Auto"/>.</summary>
    internal static string? BackendName(IoTraceBackend backend) => backend switch
    {
        IoTraceBackend.InProcess => "inprocess",
        IoTraceBackend.Ebpf => "ebpf",
        IoTraceBackend.DTrace => "dtrace",
        IoTraceBackend.Etw => "etw",
        _ => null,
    };

    /// <summary>
    /// Gets the options' backend ready. An explicit one that cannot run is an invalid option; <c>Auto</c> takes whatever
    /// runs, never fails, and where nothing runs turns tracing off (false).
    /// </summary>
    private static bool StartBackend(IoTraceOptions options, Tracer tracer)
    {
        if (BackendName(options.Backend) is not { } wanted)
        {
            return tracer.Backend is not UnavailableBackend;
        }

        if (!tracer.TryStart(wanted, out var reason))
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(IoTraceOptions), [
                $"{options.ConfigurationPath}:{nameof(options.Backend)}: the {options.Backend} backend cannot run in this process: {reason}. " +
                $"Allowed values: {string.Join(", ", Enum.GetNames<IoTraceBackend>())}; {nameof(IoTraceBackend.Auto)} turns tracing off where no backend runs."]);
        }

        return true;
    }

    public bool ShouldTrace(PathString path) => Enabled && _paths.Matches(path);

    /// <summary>
    /// Whether the current request falls in <see cref="IoTraceOptions.SamplingRatio"/>; the current activity is read
    /// only when the ratio is neither 0 nor 1. No allocation.
    /// </summary>
    public bool IsSampled() => _sampleBelow >= SampleSpace || (_sampleBelow != 0 && IsSampled(Activity.Current));

    /// <summary>
    /// Whether a request falls in <see cref="IoTraceOptions.SamplingRatio"/>: by the trace id of
    /// <paramref name="activity"/> (the request's activity) when it is a W3C one, at random otherwise.
    /// </summary>
    internal bool IsSampled(Activity? activity)
    {
        if (_sampleBelow >= SampleSpace)
        {
            return true;
        }

        if (_sampleBelow == 0)
        {
            return false;
        }

        ulong sample;
        if (activity is { IdFormat: ActivityIdFormat.W3C })
        {
            Span<byte> traceId = stackalloc byte[16];
            activity.TraceId.CopyTo(traceId);
            sample = BinaryPrimitives.ReadUInt64BigEndian(traceId[8..]) & (SampleSpace - 1);
        }
        else
        {
            sample = (ulong)Random.Shared.NextInt64((long)SampleSpace);
        }

        return sample < _sampleBelow;
    }

    /// <summary>Whether a report reaches a threshold: any set one, or always when none is set.</summary>
    public bool ShouldLog(IoTraceReport report) =>
        (MinimumCalls == 0 && MinimumBytes == 0)
        || (MinimumCalls > 0 && report.TotalCalls >= MinimumCalls)
        || (MinimumBytes > 0 && report.TotalBytes >= MinimumBytes);

    private static PathPattern[] Parse(IList<string> patterns) =>
        [.. patterns.Select(p => PathPattern.TryParse(p, out var pattern, out var error) ? pattern : throw new InvalidOperationException(error))];
}
