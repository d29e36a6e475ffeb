using IoTrace.AspNetCore.Logging;
using IoTrace.Tracing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace IoTrace.AspNetCore.Configuration;

/// <summary>
/// The settings one <c>UseIoTrace</c> middleware applies: <see cref="IOptionsMonitor{TOptions}.CurrentValue"/>, read
/// per request, with that call's <c>configure</c> applied on top. An invalid reload is logged once and the last valid
/// settings stay in force, where the options monitor alone would throw on every read until the next change.
/// </summary>
internal sealed class IoTraceOptionsTracker : IDisposable
{
    private readonly IOptionsMonitor<IoTraceOptions> _monitor;
    private readonly IOptionsFactory<IoTraceOptions> _factory;
    private readonly IValidateOptions<IoTraceOptions>[] _validators;
    private readonly Action<IoTraceOptions>? _configure;
    private readonly string _contentRoot;
    private readonly Tracer _tracer;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly IDisposable[] _changeRegistrations;
    private volatile IoTraceSettings _current;

    // Bumped on every configuration change; a rejected change is not read again until the next one.
    private int _version;
    private int _rejectedVersion = -1;

    // One save in an editor can raise several change events: the same rejection is logged once.
    private string? _lastRejection;

    /// <exception cref="OptionsValidationException">
    /// The options, with <paramref name="configure"/> applied, are invalid, or name a backend that cannot run here.
    /// </exception>
    public IoTraceOptionsTracker(
        IOptionsMonitor<IoTraceOptions> monitor,
        IOptionsFactory<IoTraceOptions> factory,
        IEnumerable<IValidateOptions<IoTraceOptions>> validators,
        IEnumerable<IOptionsChangeTokenSource<IoTraceOptions>> changeSources,
        string contentRoot,
        Tracer tracer,
        ILogger logger,
        Action<IoTraceOptions>? configure)
    {
        _tracer = tracer;
        _monitor = monitor;
        _factory = factory;
        _validators = [.. validators];
        _configure = configure;
        _contentRoot = contentRoot;
        _logger = logger;
        _current = Compile(monitor.CurrentValue);
        _changeRegistrations = [.. changeSources
            .Where(s => s.Name is null || s.Name == Options.DefaultName)
            .Select(s => ChangeToken.OnChange(s.GetChangeToken, OnChanged))];
    }

    /// <summary>The settings for the next request. Never throws.</summary>
    public IoTraceSettings Current
    {
        get
        {
            var version = Volatile.Read(ref _version);
            if (version == Volatile.Read(ref _rejectedVersion))
            {
                return _current;
            }

            IoTraceOptions options;
            try
            {
                options = _monitor.CurrentValue;
            }
            catch (Exception e)
            {
                Reject(version, e);
                return _current;
            }

            var current = _current;
            return ReferenceEquals(options, current.Source) ? current : Apply(options, version);
        }
    }

    public void Dispose()
    {
        foreach (var registration in _changeRegistrations)
        {
            registration.Dispose();
        }
    }

    private IoTraceSettings Apply(IoTraceOptions options, int version)
    {
        lock (_lock)
        {
            if (ReferenceEquals(options, _current.Source))
            {
                return _current;
            }

            try
            {
                var settings = Compile(options);
                _current = settings;
                _lastRejection = null;
                IoTraceMiddlewareLog.OptionsApplied(_logger, settings.Enabled, settings.Strategy, settings.LogLevel);
                return settings;
            }
            catch (Exception e)
            {
                Reject(version, e);
                return _current;
            }
        }
    }

    private IoTraceSettings Compile(IoTraceOptions options)
    {
        var effective = options;
        if (_configure is not null)
        {
            effective = options.Clone();
            _configure(effective);
            var failures = _validators
                .Select(v => v.Validate(Options.DefaultName, effective))
                .Where(r => r.Failed)
                .SelectMany(r => r.Failures ?? [])
                .ToList();
            if (failures.Count > 0)
            {
                throw new OptionsValidationException(Options.DefaultName, typeof(IoTraceOptions), failures);
            }
        }

        return IoTraceSettings.Create(options, effective, _contentRoot, _tracer);
    }

    private void OnChanged()
    {
        var version = Interlocked.Increment(ref _version);

        // Check the new configuration now, so an invalid change is logged when it happens. The factory, not the
        // monitor: change callbacks run in no fixed order, and the monitor may not have rebuilt its value yet.
        try
        {
            _ = Compile(_factory.Create(Options.DefaultName));
            _lastRejection = null;
        }
        catch (Exception e)
        {
            Reject(version, e);
        }
    }

    private void Reject(int version, Exception exception)
    {
        if (Interlocked.Exchange(ref _rejectedVersion, version) == version)
        {
            return;
        }

        var reason = exception is OptionsValidationException validation
            ? string.Join(" ", validation.Failures)
            : exception.Message;
        if (Interlocked.Exchange(ref _lastRejection, reason) == reason)
        {
            return;
        }

        try
        {
            IoTraceMiddlewareLog.OptionsRejected(_logger, reason, exception);
        }
        catch (Exception)
        {
            // A failing logger must not turn a configuration change into a failed request.
        }
    }
}
