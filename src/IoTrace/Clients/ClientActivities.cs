using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using IoTrace.Attribution;
using IoTrace.Backends;
using IoTrace.Probes;
using IoTrace.Tracing;

namespace IoTrace.Clients;

/// <summary>
/// The Client and Producer activities of the named sources, started in a traced flow. A client that does its socket IO
/// on threads of its own (NATS.Net, RabbitMQ.Client) asks its source for an activity per operation in the caller's flow:
/// each is counted as an <c>activity</c> row on the line that asked, where no backend can charge the system calls to the
/// request, and the trace follows the client's sockets to the server the activity names, as shared connections. It is
/// counted when the source asks whether to make the activity, and IoTrace answers no: a made activity would put trace
/// context into the client's messages (NATS.Net adds a <c>traceparent</c> header to each), changing the IO it measures.
/// So the rows have no time. Only sources of such clients are named: a client that does its IO in the caller's flow
/// (Npgsql) is counted call by call already, and its activities would count it twice.
/// </summary>
internal static class ClientActivities
{
    // The sources listened to without being named: clients known to do their IO on threads of their own.
    private static readonly string[] s_knownSources = ["NATS.Net", "RabbitMQ.Client.Publisher"];

    private static readonly int s_probe = ProbeCatalog.IndexOf("activity");
    private static readonly Lock s_lock = new();
    // Exact names, or prefixes ending in '*'.
    private static string[] s_sources = [.. s_knownSources];
    private static ActivityListener? s_listener;
    private static readonly ListeningWhileTraced s_listening = new(Start, Stop);
    // Kept here so the timer lives as long as the listening can stop.
    private static Timer? s_idleCheck;

    // Each operation's name and server as seen, and each server's sockets: bounded, for a client whose names or servers
    // have no end (an id in each), whose operations beyond the bound are made anew each time.
    private const int MaxOperations = 1024;
    private static readonly ConcurrentDictionary<(string Name, string? Host, int? Port), Operation> s_operations = new();
    private static readonly ConcurrentDictionary<string, ServerSockets> s_servers = new(StringComparer.Ordinal);

    /// <summary>Listens to <paramref name="name"/> too, from now on (a listener already running is replaced).</summary>
    public static void Add(string name)
    {
        lock (s_lock)
        {
            if (s_sources.Contains(name, StringComparer.Ordinal))
            {
                return;
            }

            s_sources = [.. s_sources, name];
            if (s_listener is { } running)
            {
                running.Dispose();
                s_listener = Listen();
            }
        }
    }

    /// <summary>Whether the sources are listened to now.</summary>
    internal static bool IsListening => Volatile.Read(ref s_listener) is not null;

    /// <summary>
    /// A trace starts: the sources are listened to from now on (synchronously, before the trace's flow goes on), until
    /// no trace has run for <see cref="ListeningWhileTraced.IdleDelay"/>. While listened to, a client builds what it
    /// asks its source for on every operation, traced or not.
    /// </summary>
    public static void OnTraceStarted() => s_listening.TraceStarted();

    /// <summary>A trace stopped.</summary>
    public static void OnTraceStopped() => s_listening.TraceStopped();

    /// <summary>Stops listening if idle at <paramref name="now"/> (tests; a timer does it every second).</summary>
    internal static bool StopIfIdle(long now) => s_listening.StopIfIdle(now);

    private static void Start()
    {
        lock (s_lock)
        {
            s_listener = Listen();
            s_idleCheck ??= s_listening.CheckIdleEverySecond();
        }
    }

    private static void Stop()
    {
        lock (s_lock)
        {
            s_listener?.Dispose();
            s_listener = null;
        }
    }

    /// <summary>Whether <paramref name="source"/> is one of <paramref name="names"/>: equal, or starting with a name's part before its <c>*</c>.</summary>
    internal static bool Matches(string source, IReadOnlyList<string> names)
    {
        foreach (var name in names)
        {
            if (name.EndsWith('*') ? source.StartsWith(name.AsSpan(0, name.Length - 1), StringComparison.Ordinal) : source == name)
            {
                return true;
            }
        }

        return false;
    }

    private static ActivityListener Listen()
    {
        var sources = s_sources;
        var listener = new ActivityListener
        {
            ShouldListenTo = source => Matches(source.Name, sources),
            Sample = static (ref options) => Count(options.Kind, options.Name, options.Tags),
            SampleUsingParentId = static (ref options) => Count(options.Kind, options.Name, options.Tags),
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    // Synchronously, in the flow that starts the operation: the caller's line is on the stack. Inside the client's call,
    // so it never throws: a failure makes the report incomplete, logged once, and the client goes on.
    private static ActivitySamplingResult Count(ActivityKind kind, string name, IEnumerable<KeyValuePair<string, object?>>? tags)
    {
        if (kind is ActivityKind.Client or ActivityKind.Producer && TraceContext.Current is { IsActive: true } trace && trace.Records(s_probe))
        {
            try
            {
                var operation = OperationOf(name, ServerOf(tags));
                var site = trace.KeepsContext && TraceContext.ResolveCaller(trace) is { } resolved ? TraceContext.SiteInFlow(resolved, trace) : SourceLocation.Unknown;
                trace.Charge(new IoCall(s_probe, -1, 0, operation.Target, ReferenceEquals(site, SourceLocation.Unknown) ? null : site, 1, 0, 0, 0));
                if (operation.Server is { } server && (trace.Recorder.Capabilities & BackendCapabilities.CountsSharedConnections) != 0)
                {
                    UseServerSockets(trace, server);
                }
            }
            catch (Exception e)
            {
                trace.MarkIncomplete();
                BackendDiagnostics.Shared.TracerFailed(e);
            }
        }

        return ActivitySamplingResult.None;
    }

    /// <summary>An operation's target and its server's sockets, made once per name and server (up to a bound).</summary>
    private static Operation OperationOf(string name, (string? Host, int? Port) server)
    {
        var key = (name, server.Host, server.Port);
        if (s_operations.TryGetValue(key, out var operation))
        {
            return operation;
        }

        operation = new Operation(Target(name, server.Host, server.Port), SocketsTo(server.Host, server.Port));
        return s_operations.Count < MaxOperations ? s_operations.GetOrAdd(key, operation) : operation;
    }

    /// <summary>The sockets to the server at <paramref name="host"/> (an IP address) and <paramref name="port"/>; none for a host name.</summary>
    private static ServerSockets? SocketsTo(string? host, int? port)
    {
        if (port is not { } number || !IPAddress.TryParse(host, out var address))
        {
            return null;
        }

        var peer = PeerNames.Of(address, number);
        return s_servers.TryGetValue(peer, out var server) ? server
            : s_servers.Count < MaxOperations ? s_servers.GetOrAdd(peer, static p => new ServerSockets(() => new HashSet<string>(StringComparer.Ordinal) { p }))
            : null;
    }

    /// <summary>
    /// The trace follows the client's sockets to <paramref name="server"/> from now on, as shared connections: what they
    /// did while it waited. Found once per server (again once one closed); none where that fails, logged once.
    /// </summary>
    private static void UseServerSockets(TraceSession trace, ServerSockets server)
    {
        try
        {
            SharedConnection[] sockets;
            using (TracerThread.Enter())
            using (ThreadTraces.Hide())
            {
                sockets = server.Current(trace.Recorder);
            }

            foreach (var socket in sockets)
            {
                trace.UseSharedConnection(socket);
            }
        }
        catch (Exception e)
        {
            // Best effort: the operations are still counted, the connection's calls not.
            BackendDiagnostics.Shared.TracerFailed(e);
        }
    }

    /// <summary>The server the client tags the operation with (OpenTelemetry's <c>server.address</c> and <c>server.port</c>).</summary>
    private static (string? Host, int? Port) ServerOf(IEnumerable<KeyValuePair<string, object?>>? tags)
    {
        string? host = null;
        int? port = null;
        // Clients pass an array, walked without an enumerator.
        foreach (var (key, value) in tags is KeyValuePair<string, object?>[] array ? array.AsSpan() : (tags ?? []).ToArray())
        {
            switch (key, value)
            {
                case ("server.address", string address):
                    host = address;
                    break;
                case ("server.port", int number):
                    port = number;
                    break;
                case ("server.port", long number) when number is >= 0 and <= ushort.MaxValue:
                    port = (int)number;
                    break;
                case ("server.port", string text) when int.TryParse(text, CultureInfo.InvariantCulture, out var number):
                    port = number;
                    break;
            }
        }

        return (host, port);
    }

    /// <summary>The activity's name and its server where the client tags it: <c>orders publish 127.0.0.1:4222</c>.</summary>
    internal static string Target(string name, string? host, int? port) => (host, port) switch
    {
        (null, _) => name,
        (_, null) => $"{name} {host}",
        _ when host.Contains(':', StringComparison.Ordinal) => string.Create(CultureInfo.InvariantCulture, $"{name} [{host}]:{port}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{name} {host}:{port}"),
    };

    private sealed record Operation(string Target, ServerSockets? Server);
}
