using StackExchange.Redis;

namespace IoTrace.StackExchangeRedis;

/// <summary>
/// Reports the commands a traced request sends through StackExchange.Redis. Its multiplexed connection writes and reads
/// its socket on threads of its own, outside the request's flow, so no backend can charge those system calls to the
/// request; the client's profiling sessions say what the request asked instead: one <c>redis</c> row per command name,
/// server and line, with the commands' count and their time from creation to completion. Where the backend counts
/// them, the connection's own calls while the request used it are in <see cref="IoTraceReport.SharedAggregates"/>.
/// </summary>
public static class IoTraceRedis
{
    /// <summary>
    /// Profiles <paramref name="connection"/>'s commands for IO tracing. StackExchange.Redis keeps one profiler per
    /// connection: this replaces any other registered on it (OpenTelemetry's Redis instrumentation registers one too).
    /// </summary>
    /// <param name="connection">The connection, shared by the app as usual.</param>
    public static void Instrument(IConnectionMultiplexer connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var sockets = new RedisSockets(connection);
        connection.RegisterProfiler(() => RedisCommandProfiler.Shared.SessionForCurrentFlow(sockets));

        // Found now rather than in the first traced request, where they would cost that request the search (on Linux:
        // every backend there counts the same fds).
        RedisCommandProfiler.FindSockets(sockets, backend: null);
    }
}
