using IoTrace.Backends;
using IoTrace.Backends.Unavailable;
using IoTrace.Attribution;
using IoTrace.Tracing;
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
    private static readonly List<IoTraceBackendProvider> s_providers = [];
    private static ILoggerFactory s_loggerFactory = NullLoggerFactory.Instance;
    private static Tracer? s_default;

    /// <summary>
    /// Where the static methods log their tracer's state: the backend chosen (once) and failures (once each).
    /// Defaults to <see cref="NullLoggerFactory.Instance"/>. An ASP.NET Core app's middleware logs through the app's own
    /// logging instead, whatever this is.
    /// </summary>
    public static ILoggerFactory LoggerFactory
    {
        get => s_loggerFactory;
        set
        {
            lock (s_lock)
            {
                s_loggerFactory = value ?? NullLoggerFactory.Instance;

                // The backend may have been chosen before logging was wired: the new tracer says which, and why.
                if (s_default is { } previous)
                {
                    s_default = previous.Reconfigured(s_loggerFactory, s_providers);
                    previous.Dispose();
                }
            }
        }
    }

    /// <summary>The name of the backend this process uses: <c>ebpf</c>, <c>inprocess</c>, or <c>none</c> where no backend can run.</summary>
    public static string BackendName => Default.Backend.Name;

    /// <summary>Whether a backend can record IO on this platform.</summary>
    public static bool IsSupported => Default.Backend is not UnavailableBackend;

    /// <summary>
    /// Registers a backend from a package (IoTrace.Ebpf's <c>IoTraceEbpf.Backend</c>) for the static methods: <c>auto</c>
    /// prefers it where it can run, and <see cref="TryEnable(string, out string)"/> accepts its name. Call it before the
    /// first trace; a tracer that chose its backend already takes a new one through <see cref="TryEnable(string, out string)"/>.
    /// An ASP.NET Core app registers backends on its services instead (<c>services.AddIoTrace().AddEbpfBackend()</c>).
    /// </summary>
    /// <param name="provider">The backend's provider.</param>
    public static void AddBackend(IoTraceBackendProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        lock (s_lock)
        {
            if (s_providers.Exists(p => p.Name == provider.Name))
            {
                return;
            }

            s_providers.Add(provider);
            if (s_default is { } previous)
            {
                s_default = previous.Reconfigured(s_loggerFactory, s_providers);
                previous.Dispose();
            }
        }
    }

    /// <summary>
    /// Reports the operations a client records as activities of the <see cref="System.Diagnostics.ActivitySource"/>
    /// named <paramref name="name"/>, for a client that does its socket IO on threads of its own (a multiplexed
    /// connection: no backend can charge those calls to the request that asked for them). Each Client or Producer
    /// activity the client asks for in a traced flow is then counted in an <c>activity</c> row on the line that asked,
    /// its target the activity's name and the server it tags. IoTrace makes no activity itself (one would add trace
    /// context to the client's messages), so the rows have calls and no time.
    /// The publishes of NATS.Net (its source <c>NATS.Net</c>, from version 3) and RabbitMQ.Client
    /// (<c>RabbitMQ.Client.Publisher</c>, from version 7) are reported without this. Name no client that does its IO in
    /// the caller's flow (Npgsql, HttpClient): its calls are counted already, and its activities would count them twice.
    /// </summary>
    /// <param name="name">The source's name, or a prefix of names followed by <c>*</c> (<c>MyCompany.Messaging.*</c>).</param>
    /// <exception cref="ArgumentException">The name is empty or white space.</exception>
    public static void AddActivitySource(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Clients.ClientActivities.Add(name.Trim());
    }

    /// <summary>The tracer behind the static methods.</summary>
    internal static Tracer Default
    {
        get
        {
            if (Volatile.Read(ref s_default) is { } tracer)
            {
                return tracer;
            }

            lock (s_lock)
            {
                return s_default ??= new Tracer(s_loggerFactory, s_providers);
            }
        }
    }

    /// <summary>The static methods' backend.</summary>
    internal static IIoTraceBackend Backend => Default.Backend;

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

        return Default.Start(strategy, options);
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
    public static bool TryEnable(out string reason) => Default.TryStart(out reason);

    /// <summary>
    /// Chooses the named backend for the process and gets it ready now. Traces running on another backend finish there.
    /// </summary>
    /// <param name="backend">
    /// <c>auto</c> (the best one that runs: a registered backend, such as eBPF, where the process may use it, else
    /// in-process), <c>inprocess</c>, or a registered backend's name (<c>ebpf</c>, see <see cref="AddBackend"/>);
    /// case-insensitive.
    /// </param>
    /// <param name="reason">Why the backend cannot trace in this process, when the result is <see langword="false"/>.</param>
    /// <returns>Whether the backend is ready to trace.</returns>
    /// <exception cref="ArgumentException">The name is not a backend; the message lists the allowed values.</exception>
    public static bool TryEnable(string backend, out string reason)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var name = backend.Trim().ToLowerInvariant();
        var tracer = Default;
        if (Array.IndexOf(tracer.BackendNames, name) < 0)
        {
            throw new ArgumentException($"Unknown backend '{backend}'. Allowed values: {string.Join(", ", tracer.BackendNames)}.", nameof(backend));
        }

        return tracer.TryStart(name, out reason);
    }

    /// <summary>A snapshot of the tracer's process-wide state: active traces, awaited fds, cached call sites.</summary>
    /// <returns>The snapshot.</returns>
    public static IoTraceStatistics GetStatistics() => new(Tracer.ActiveTraces, FdOwners.Count, CallSiteResolver.CachedKeysInAll());

    /// <summary>
    /// Switches tracing off for the process: every hooked call goes back to its original target.
    /// A later <see cref="Start(Strategy)"/> switches it on again.
    /// </summary>
    public static void Disable() => Default.Stop();

    private static readonly IoTraceStartOptions s_defaultOptions = new();

    /// <summary>Replaces the static methods' backend (tests only); returns the previous one, not stopped.</summary>
    internal static IIoTraceBackend ReplaceBackend(IIoTraceBackend backend)
    {
        lock (s_lock)
        {
            var previous = Default.Backend;
            var replaced = s_default!;
            s_default = new Tracer(backend, s_loggerFactory);
            replaced.Dispose();
            return previous;
        }
    }
}
