using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using IoTrace.Attribution;
using IoTrace.Backends;
using IoTrace.Clients;
using IoTrace.Probes;
using IoTrace.Tracing;
using StackExchange.Redis.Profiling;

namespace IoTrace.StackExchangeRedis;

/// <summary>
/// Gives StackExchange.Redis a profiling session per trace and line when a traced flow creates a command (the client
/// asks in the caller's flow), and charges the finished commands to the trace when it stops.
/// </summary>
internal sealed class RedisCommandProfiler : IClientEventSource
{
    private static readonly int s_probe = ProbeCatalog.IndexOf("redis");

    private readonly ConditionalWeakTable<TraceSession, TraceCommands> _traces = [];

    private RedisCommandProfiler()
    {
    }

    /// <summary>The process's profiler, asked by every trace once it is registered.</summary>
    public static RedisCommandProfiler Shared { get; } = Register();

    private static RedisCommandProfiler Register()
    {
        var profiler = new RedisCommandProfiler();
        ClientEventSources.Add(profiler);
        return profiler;
    }

    /// <summary>
    /// The session for a command created in this flow, or null (no trace, or one whose strategy does not record it):
    /// then the client profiles nothing. The line is the application's on the stack, else the one the flow inherited.
    /// Where the backend counts shared connections, the trace also follows the multiplexer's sockets from now on.
    /// </summary>
    public ProfilingSession? SessionForCurrentFlow(RedisSockets? sockets = null)
    {
        if (TraceContext.Current is not { IsActive: true } trace || !trace.Records(s_probe))
        {
            return null;
        }

        if (sockets is not null && (trace.Recorder.Capabilities & BackendCapabilities.CountsSharedConnections) != 0)
        {
            UseSockets(trace, sockets);
        }

        var site = trace.KeepsContext && TraceContext.ResolveCaller(trace) is { } resolved ? TraceContext.SiteInFlow(resolved, trace) : SourceLocation.Unknown;
        return _traces.GetValue(trace, static _ => new TraceCommands()).SessionFor(site);
    }

    private static void UseSockets(TraceSession trace, RedisSockets sockets)
    {
        foreach (var socket in FindSockets(sockets, trace.Recorder))
        {
            trace.UseSharedConnection(socket);
        }
    }

    /// <summary>The multiplexer's sockets; none where they cannot be found (the failure logged once: the commands are still reported).</summary>
    public static SharedConnection[] FindSockets(RedisSockets sockets, IIoTraceBackend? backend)
    {
        try
        {
            return sockets.Current(backend);
        }
        catch (Exception e)
        {
            BackendDiagnostics.Shared.TracerFailed(e);
            return [];
        }
    }

    public void ChargeTo(TraceSession trace)
    {
        if (!_traces.TryGetValue(trace, out var commands))
        {
            return;
        }

        _traces.Remove(trace);
        foreach (var (site, session) in commands.Sessions())
        {
            foreach (var command in session.FinishProfiling())
            {
                var wallTicks = (long)(command.ElapsedTime.Ticks * ((double)Stopwatch.Frequency / TimeSpan.TicksPerSecond));
                trace.Charge(new IoCall(s_probe, -1, 0, Target(command), ReferenceEquals(site, SourceLocation.Unknown) ? null : site, 1, 0, wallTicks, 0));
            }
        }
    }

    /// <summary>The command and the server it went to, as <c>GET 127.0.0.1:6379</c>.</summary>
    private static string Target(IProfiledCommand command) => command.EndPoint switch
    {
        IPEndPoint ip => $"{command.Command} {ip}",
        DnsEndPoint dns => $"{command.Command} {dns.Host}:{dns.Port}",
        var other => $"{command.Command} {other}",
    };

    /// <summary>A trace's sessions, one per line that sent commands.</summary>
    private sealed class TraceCommands
    {
        private readonly Dictionary<SourceLocation, ProfilingSession> _bySite = new(ReferenceEqualityComparer.Instance);

        public ProfilingSession SessionFor(SourceLocation site)
        {
            lock (_bySite)
            {
                if (!_bySite.TryGetValue(site, out var session))
                {
                    session = new ProfilingSession();
                    _bySite[site] = session;
                }

                return session;
            }
        }

        public KeyValuePair<SourceLocation, ProfilingSession>[] Sessions()
        {
            lock (_bySite)
            {
                return [.. _bySite];
            }
        }
    }
}
