using IoTrace.Backends;
using IoTrace.Backends.InProcess;
using IoTrace.Backends.Unavailable;
using IoTrace.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTrace;

/// <summary>
/// Traces the IO calls (files and sockets) that a block of code makes, including the tasks it starts,
/// and attributes them to the application's source lines: the io-trace gem's <c>IO.trace</c>.
/// </summary>
public static class IoTracer
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<string, CallSiteResolver> s_resolvers = new(StringComparer.Ordinal);
    private static IIoTraceBackend? s_backend;
    private static ILoggerFactory s_loggerFactory = NullLoggerFactory.Instance;
    private static int s_failureReported;
    private static int s_activeTraces;
    private static ResolverChoice? s_lastResolver;
    private static (IIoTraceBackend Backend, string Reason)? s_selection;
    private static ILoggerFactory? s_selectionLoggedTo;

    /// <summary>
    /// Where the tracer logs its own state: the backend chosen (once) and failures (once each).
    /// Defaults to <see cref="NullLoggerFactory.Instance"/>; the ASP.NET Core middleware sets the app's.
    /// </summary>
    public static ILoggerFactory LoggerFactory
    {
        get => s_loggerFactory;
        set
        {
            s_loggerFactory = value ?? NullLoggerFactory.Instance;

            // The backend may have been chosen before the app's logging was wired: say which, and why, now.
            LogSelection();
        }
    }

    /// <summary>The name of the backend this process uses: <c>ebpf</c>, <c>inprocess</c>, or <c>none</c> where no backend can run.</summary>
    public static string BackendName => Backend.Name;

    /// <summary>Whether a backend can record IO on this platform.</summary>
    public static bool IsSupported => Backend is not UnavailableBackend;

    internal static IIoTraceBackend Backend
    {
        get
        {
            if (s_backend is { } backend)
            {
                return backend;
            }

            lock (s_lock)
            {
                return s_backend ??= CreateBackend();
            }
        }
    }

    /// <summary>Parses a strategy name, case-insensitively.</summary>
    /// <param name="name">One of <c>Summary</c>, <c>Setup</c>, <c>Read</c>, <c>Write</c>, <c>All</c>.</param>
    /// <returns>The strategy.</returns>
    /// <exception cref="ArgumentException">The name is not a strategy; the message lists the allowed values.</exception>
    public static Strategy ParseStrategy(string name)
    {
        if (!string.IsNullOrWhiteSpace(name) && !char.IsDigit(name.Trim()[0]) && Enum.TryParse<Strategy>(name.Trim(), ignoreCase: true, out var strategy) && Enum.IsDefined(strategy))
        {
            return strategy;
        }

        throw new ArgumentException($"Unknown strategy '{name}'. Allowed values: {string.Join(", ", Enum.GetNames<Strategy>())}.", nameof(name));
    }

    /// <summary>Starts a trace of the current async flow; IO counts until the returned scope is stopped.</summary>
    /// <param name="strategy">What to record.</param>
    /// <returns>The running trace.</returns>
    public static IoTraceScope Start(Strategy strategy) => Start(strategy, s_defaultOptions);

    /// <summary>Starts a trace of the current async flow; IO counts until the returned scope is stopped.</summary>
    /// <param name="strategy">What to record.</param>
    /// <param name="options">How to attribute calls to lines.</param>
    /// <returns>The running trace.</returns>
    public static IoTraceScope Start(Strategy strategy, IoTraceStartOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Enum.IsDefined(strategy))
        {
            throw new ArgumentException($"Unknown strategy '{strategy}'. Allowed values: {string.Join(", ", Enum.GetNames<Strategy>())}.", nameof(strategy));
        }

        var backend = Backend;
        var session = new TraceSession(strategy, options.Features, backend.Name, ResolverFor(options), options.RootPath ?? Environment.CurrentDirectory, options.Redaction);

        // Counted once the trace exists, so a failed start leaves no count behind; uncounted when its scope stops.
        if (session.KeepsContext)
        {
            HttpClientCallSites.OnContextTraceStarted();
        }

        var previous = TraceContext.Current;
        TraceContext.Current = session;
        backend.OnTraceStarted(session);
        return new IoTraceScope(session, previous, backend);
    }

    /// <summary>Runs <paramref name="body"/> and returns the IO it made.</summary>
    /// <param name="strategy">What to record.</param>
    /// <param name="body">The code to trace.</param>
    /// <returns>The report.</returns>
    public static IoTraceReport Trace(Strategy strategy, Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var scope = Start(strategy);
        body();
        return scope.Stop();
    }

    /// <summary>Runs <paramref name="body"/>, writes the report to <paramref name="stream"/> with the named formatter, and returns it.</summary>
    /// <param name="strategy">What to record.</param>
    /// <param name="stream">Where the formatted report goes.</param>
    /// <param name="formatter">A built-in (<c>default</c>, <c>time</c>, <c>calls</c>, <c>cpu</c>, <c>bytes</c>, <c>fds</c>, <c>files</c>) or registered formatter name.</param>
    /// <param name="body">The code to trace.</param>
    /// <returns>The report.</returns>
    public static IoTraceReport Trace(Strategy strategy, TextWriter stream, string formatter, Action body) =>
        Trace(strategy, stream, IoTraceFormatters.Get(formatter), body);

    /// <summary>Runs <paramref name="body"/>, writes the report to <paramref name="stream"/> with <paramref name="formatter"/>, and returns it.</summary>
    /// <param name="strategy">What to record.</param>
    /// <param name="stream">Where the formatted report goes.</param>
    /// <param name="formatter">The formatter.</param>
    /// <param name="body">The code to trace.</param>
    /// <returns>The report.</returns>
    public static IoTraceReport Trace(Strategy strategy, TextWriter stream, IoTraceFormatter formatter, Action body)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(formatter);
        var report = Trace(strategy, body);
        formatter(stream, report);
        return report;
    }

    /// <summary>Awaits <paramref name="body"/> and returns the IO it made, including tasks it started.</summary>
    /// <param name="strategy">What to record.</param>
    /// <param name="body">The code to trace.</param>
    /// <returns>The report.</returns>
    public static async Task<IoTraceReport> TraceAsync(Strategy strategy, Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var scope = Start(strategy);
        await body().ConfigureAwait(false);
        return await scope.StopAsync().ConfigureAwait(false);
    }

    /// <summary>Awaits <paramref name="body"/>, writes the report to <paramref name="stream"/> with the named formatter, and returns it.</summary>
    /// <param name="strategy">What to record.</param>
    /// <param name="stream">Where the formatted report goes.</param>
    /// <param name="formatter">A built-in or registered formatter name.</param>
    /// <param name="body">The code to trace.</param>
    /// <returns>The report.</returns>
    public static Task<IoTraceReport> TraceAsync(Strategy strategy, TextWriter stream, string formatter, Func<Task> body) =>
        TraceAsync(strategy, stream, IoTraceFormatters.Get(formatter), body);

    /// <summary>Awaits <paramref name="body"/>, writes the report to <paramref name="stream"/> with <paramref name="formatter"/>, and returns it.</summary>
    /// <param name="strategy">What to record.</param>
    /// <param name="stream">Where the formatted report goes.</param>
    /// <param name="formatter">The formatter.</param>
    /// <param name="body">The code to trace.</param>
    /// <returns>The report.</returns>
    public static async Task<IoTraceReport> TraceAsync(Strategy strategy, TextWriter stream, IoTraceFormatter formatter, Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(formatter);
        var report = await TraceAsync(strategy, body).ConfigureAwait(false);
        formatter(stream, report);
        return report;
    }

    /// <summary>
    /// Chooses the backend and installs its hooks now, instead of at the first trace: to fail fast at startup, or to
    /// keep that one-time cost out of the first traced request. Later traces use what this prepared.
    /// </summary>
    /// <param name="reason">Why no backend can trace in this process, when the result is <see langword="false"/>.</param>
    /// <returns>Whether a backend is ready to trace.</returns>
    public static bool TryEnable(out string reason) => Backend.TryEnable(out reason);

    /// <summary>
    /// Chooses the named backend for the process and gets it ready now. Traces running on another backend finish there.
    /// </summary>
    /// <param name="backend">
    /// <c>auto</c> (the best one that runs: eBPF where the IoTrace.Ebpf package is referenced and the process may load
    /// BPF programs, else in-process), <c>inprocess</c>, or <c>ebpf</c>; case-insensitive.
    /// </param>
    /// <param name="reason">Why the backend cannot trace in this process, when the result is <see langword="false"/>.</param>
    /// <returns>Whether the backend is ready to trace.</returns>
    /// <exception cref="ArgumentException">The name is not a backend; the message lists the allowed values.</exception>
    public static bool TryEnable(string backend, out string reason)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var name = backend.Trim().ToLowerInvariant();
        if (Array.IndexOf(BackendSelector.Names, name) < 0)
        {
            throw new ArgumentException($"Unknown backend '{backend}'. Allowed values: {string.Join(", ", BackendSelector.Names)}.", nameof(backend));
        }

        lock (s_lock)
        {
            // "none" means no backend runs on this platform (or a test simulates that): nothing to switch to.
            if (name == BackendSelector.Auto || s_backend?.Name == name || s_backend is UnavailableBackend)
            {
                var ready = Backend.TryEnable(out reason);
                return ready && (name == BackendSelector.Auto || Backend.Name == name);
            }

            if (BackendSelector.Create(name, out var selectedReason) is not { } created)
            {
                reason = selectedReason;
                return false;
            }

            var previous = s_backend;
            s_backend = created;
            s_selection = (created, selectedReason);
            s_selectionLoggedTo = null;
            Wire(created);
            LogSelection();

            // Traces running there keep their hooks until they stop; only an idle in-process backend is removed.
            if (previous is not null && Volatile.Read(ref s_activeTraces) == 0 && previous.Name != created.Name)
            {
                previous.Shutdown();
            }

            return created.TryEnable(out reason);
        }
    }

    /// <summary>A snapshot of the tracer's process-wide state: active traces, awaited fds, cached call sites.</summary>
    /// <returns>The snapshot.</returns>
    public static IoTraceStatistics GetStatistics()
    {
        int cached;
        lock (s_resolvers)
        {
            cached = s_resolvers.Values.Sum(r => r.CachedKeys);
        }

        return new IoTraceStatistics(Volatile.Read(ref s_activeTraces), FdOwners.Count, cached);
    }

    internal static void OnScopeStarted() => Interlocked.Increment(ref s_activeTraces);

    internal static void OnScopeStopped() => Interlocked.Decrement(ref s_activeTraces);

    /// <summary>
    /// Switches tracing off for the process: every hooked call goes back to its original target.
    /// A later <see cref="Start(Strategy)"/> switches it on again.
    /// </summary>
    public static void Disable()
    {
        lock (s_lock)
        {
            s_backend?.Shutdown();
        }
    }

    private static readonly IoTraceStartOptions s_defaultOptions = new();

    private static CallSiteResolver ResolverFor(IoTraceStartOptions options)
    {
        // A middleware starts every trace with the same options instance: skip the join and the lock for it.
        if (s_lastResolver is { } last && ReferenceEquals(last.Options, options) && SamePrefixes(last.Prefixes, options.SkippedNamespaces))
        {
            return last.Resolver;
        }

        var prefixes = options.SkippedNamespaces.ToArray();
        var key = string.Join('\n', prefixes);
        CallSiteResolver resolver;
        lock (s_resolvers)
        {
            if (!s_resolvers.TryGetValue(key, out resolver!))
            {
                resolver = new CallSiteResolver(prefixes);
                s_resolvers[key] = resolver;
            }
        }

        s_lastResolver = new ResolverChoice(options, prefixes, resolver);
        return resolver;
    }

    private static bool SamePrefixes(string[] known, IList<string> current)
    {
        if (known.Length != current.Count)
        {
            return false;
        }

        for (var i = 0; i < known.Length; i++)
        {
            if (!string.Equals(known[i], current[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private sealed record ResolverChoice(IoTraceStartOptions Options, string[] Prefixes, CallSiteResolver Resolver);

    private static IIoTraceBackend CreateBackend()
    {
        var backend = BackendSelector.Select(out var reason);
        s_selection = (backend, reason);
        Wire(backend);
        LogSelection();
        return backend;
    }

    /// <summary>Tells each logger factory IoTracer is given, once, which backend runs and why.</summary>
    private static void LogSelection()
    {
        var factory = s_loggerFactory;
        if (s_selection is not { } selection || factory is NullLoggerFactory
            || ReferenceEquals(Interlocked.Exchange(ref s_selectionLoggedTo, factory), factory))
        {
            return;
        }

        LogSelection(selection.Backend, selection.Reason, factory.CreateLogger("IoTrace"));
    }

    /// <summary>Logs the choice (a warning when tracing is off) and wires the backend's failure reports.</summary>
    internal static IIoTraceBackend Activate(IIoTraceBackend backend, string reason, ILogger logger)
    {
        LogSelection(backend, reason, logger);
        Wire(backend);
        return backend;
    }

    private static void LogSelection(IIoTraceBackend backend, string reason, ILogger logger)
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

    private static void Wire(IIoTraceBackend backend)
    {
        if (backend is UnavailableBackend)
        {
            return;
        }

        if (OperatingSystem.IsLinux() && backend is InProcessBackend inProcess)
        {
            inProcess.HookFailed += ReportFailure;
            inProcess.InstallFailed += r => IoTraceLog.BackendInstallFailed(s_loggerFactory.CreateLogger("IoTrace"), backend.Name, r);
        }

        if (backend is IReportsFailures reporting)
        {
            reporting.Wire(
                ReportFailure,
                (name, r) => IoTraceLog.BackendFailed(s_loggerFactory.CreateLogger("IoTrace"), name, r),
                (name, r) => IoTraceLog.BackendLostCalls(s_loggerFactory.CreateLogger("IoTrace"), name, r));
        }

        // Never leave a slot pointing into a runtime that is shutting down.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => backend.Shutdown();
    }

    /// <summary>Logs the first failure inside the tracer (a hook, call-site attribution); later ones are dropped.</summary>
    internal static void ReportFailure(Exception exception)
    {
        if (Interlocked.Exchange(ref s_failureReported, 1) == 0)
        {
            IoTraceLog.TracerFailed(s_loggerFactory.CreateLogger("IoTrace"), exception);
        }
    }

    /// <summary>Replaces the process's backend (tests only); returns the previous one, not shut down.</summary>
    internal static IIoTraceBackend ReplaceBackend(IIoTraceBackend backend)
    {
        lock (s_lock)
        {
            var previous = Backend;
            s_backend = backend;
            return previous;
        }
    }
}
