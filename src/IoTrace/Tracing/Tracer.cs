using IoTrace.Backends;
using IoTrace.Backends.Unavailable;
using Microsoft.Extensions.Logging;
using IoTrace.Attribution;

namespace IoTrace.Tracing;

/// <summary>
/// Starts traces on a backend and logs, through its own logger, which backend runs and what goes wrong: one per
/// ASP.NET Core host, and one behind <see cref="IoTracer"/>'s static methods. The backends themselves serve the whole
/// process; two tracers with the same backend share its hooks.
/// </summary>
internal sealed class Tracer : IDisposable
{
    private static int s_activeTraces;

    private readonly Lock _lock = new();
    private readonly IReadOnlyList<IoTraceBackendProvider> _providers;
    private readonly IDisposable _listening;
    private readonly ILoggerFactory _loggerFactory;
    private IIoTraceBackend? _backend;

    public Tracer(ILoggerFactory loggerFactory, IEnumerable<IoTraceBackendProvider> providers)
    {
        _loggerFactory = loggerFactory;
        _providers = [.. providers.DistinctBy(p => p.Name)];
        Diagnostics = new TracerDiagnostics(loggerFactory.CreateLogger(TracerDiagnostics.CategoryName));
        _listening = BackendDiagnostics.Shared.Subscribe(Diagnostics);
    }

    /// <summary>A tracer on <paramref name="backend"/>, whatever the process could run (tests).</summary>
    public Tracer(IIoTraceBackend backend, ILoggerFactory loggerFactory)
        : this(loggerFactory, [])
    {
        _backend = backend;
    }

    public TracerDiagnostics Diagnostics { get; }

    /// <summary>The backend, chosen (<c>auto</c>) on first use unless <see cref="TryStart(string, out string)"/> chose one.</summary>
    public IIoTraceBackend Backend
    {
        get
        {
            if (Volatile.Read(ref _backend) is { } backend)
            {
                return backend;
            }

            lock (_lock)
            {
                return _backend ??= Select(BackendSelector.Auto, out _);
            }
        }
    }

    /// <summary>The names <see cref="TryStart(string, out string)"/> accepts: auto, inprocess and the registered backends'.</summary>
    public string[] BackendNames => BackendSelector.Names(_providers);

    /// <summary>Traces started by any tracer of the process and not yet stopped.</summary>
    public static int ActiveTraces => Volatile.Read(ref s_activeTraces);

    /// <summary>Gets the backend ready now (hooks, attach); false with the reason where it cannot.</summary>
    public bool TryStart(out string reason) => Backend.TryStart(out reason);

    /// <summary>
    /// Chooses the named backend (<c>auto</c>, <c>inprocess</c>, or a registered one's name) and gets it ready. Traces
    /// running on another backend finish there. False, with the reason, where that backend cannot run.
    /// </summary>
    public bool TryStart(string name, out string reason)
    {
        lock (_lock)
        {
            if (name == BackendSelector.Auto || _backend?.Name == name || _backend is UnavailableBackend)
            {
                var ready = Backend.TryStart(out reason);
                if (ready && name != BackendSelector.Auto && Backend.Name != name)
                {
                    reason = $"the process runs '{Backend.Name}'";
                    return false;
                }

                return ready;
            }

            if (BackendSelector.Create(name, _providers, out var selectReason) is not { } selected)
            {
                reason = selectReason;
                return false;
            }

            var previous = _backend;
            _backend = Chosen(selected, selectReason);

            // Traces running on the previous backend keep its hooks until they stop; an idle one is removed.
            if (previous is not null && ActiveTraces == 0)
            {
                previous.Stop();
            }

            return selected.TryStart(out reason);
        }
    }

    /// <summary>Starts a trace of the current async flow on the backend serving now.</summary>
    public IoTraceScope Start(Strategy strategy, IoTraceStartOptions options)
    {
        var recorder = Backend.RecorderForNewTrace() ?? new UnavailableBackend($"the {Backend.Name} backend cannot record now");
        var session = new TraceSession(strategy, options.Features, recorder, CallSiteResolver.For(options), options.RootPath ?? Environment.CurrentDirectory, options.Redaction, options.IncludeRuntimeIo);
        return new IoTraceScope(session);
    }

    /// <summary>Switches the backend off for the process: hooks restored, kernel programs detached. A later trace starts it again.</summary>
    public void Stop()
    {
        lock (_lock)
        {
            _backend?.Stop();
        }
    }

    public void Dispose() => _listening.Dispose();

    internal static void OnScopeStarted() => Interlocked.Increment(ref s_activeTraces);

    internal static void OnScopeStopped() => Interlocked.Decrement(ref s_activeTraces);

    /// <summary>
    /// A tracer with this one's backend, if it chose one already, logging through <paramref name="loggerFactory"/> and
    /// choosing among <paramref name="providers"/>; it says which backend runs, and why, in a log it is new to.
    /// </summary>
    public Tracer Reconfigured(ILoggerFactory loggerFactory, IEnumerable<IoTraceBackendProvider> providers)
    {
        lock (_lock)
        {
            var tracer = new Tracer(loggerFactory, providers) { _backend = _backend, _reason = _reason };
            if (_backend is { } backend && !ReferenceEquals(loggerFactory, _loggerFactory))
            {
                tracer.LogSelection(backend, _reason ?? string.Empty);
            }

            return tracer;
        }
    }

    private string? _reason;

    private IIoTraceBackend Select(string name, out string reason) =>
        Chosen(BackendSelector.Create(name, _providers, out reason) ?? new UnavailableBackend(reason), reason);

    private IIoTraceBackend Chosen(IIoTraceBackend backend, string reason)
    {
        _reason = reason;
        LogSelection(backend, reason);

        // Never leave a hook pointing into a runtime that is shutting down.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => backend.Stop();
        return backend;
    }

    private void LogSelection(IIoTraceBackend backend, string reason) => LogSelection(backend, reason, Diagnostics.Logger);

    /// <summary>Says which backend runs and why; a warning where none can.</summary>
    internal static void LogSelection(IIoTraceBackend backend, string reason, ILogger logger)
    {
        if (backend is UnavailableBackend)
        {
            IoTraceLog.BackendUnavailable(logger, reason);
        }
        else
        {
            IoTraceLog.BackendSelected(logger, backend.Name, reason);
        }
    }
}
