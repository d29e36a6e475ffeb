using IoTrace.RealClients.Tests.TestSupport;
using Xunit;

namespace IoTrace.RealClients.Tests;

/// <summary>
/// Redis through StackExchange.Redis's multiplexed connection, whose socket IO runs on its own threads: the report shows
/// the commands the request sent (IoTrace.StackExchangeRedis), as strace saw them sent, none of that socket IO among the
/// request's own calls, and the socket's calls while the request used it as shared rows.
/// </summary>
public sealed class StackExchangeRedisTests(RedisServer redis)
{
    [Theory]
    [InlineData("inprocess")]
    [InlineData("ebpf")]
    [InlineData("dtrace")]
    public async Task Commands_EachOnTheLineThatSentIt_AsStraceSawThemSent(string backend)
    {
        await redis.RequireAsync();

        var run = await HostRun.StartAsync(backend, "redis", redis.Endpoint);

        Assert.Equal($"DONE {backend} True", run.Done);
        // strace prints what each sendto sent: a command is its RESP array (*3\r\n$3\r\nSET...).
        var sent = run.StracedOnPeer(redis.Port).Where(static c => c.Name == "sendto").ToList();
        long Sent(string command) => sent.Count(c => c.Text.Contains($"\\r\\n{command}\\r\\n", StringComparison.Ordinal));
        Assert.Equal(
            [("GET", 3L, HostRun.LineOf("// the gets")), ("SET", Sent("SET"), HostRun.LineOf("// the set")), ("UNLINK", Sent("UNLINK"), HostRun.LineOf("// the delete"))],
            run.Rows.Where(static r => r.Probe == "redis").OrderBy(static r => r.Target, StringComparer.Ordinal)
                .Select(r => (r.Target.Split(' ')[0], r.Calls, r.Line ?? 0)));
        Assert.Equal(3, Sent("GET"));
        Assert.All(run.Rows.Where(static r => r.Probe == "redis"), r => Assert.EndsWith($" {redis.Endpoint}", r.Target, StringComparison.Ordinal));
        // The socket's own calls are the multiplexer's threads': no backend charges them to the request.
        Assert.Empty(run.ReportedOnPeer(redis.Port));

        // They are the report's shared rows: between the markers only this request used the connection, so they are
        // strace's calls on its socket, call for call and byte for byte. The kernel backends count the socket's reads
        // and writes only: strace also sees the backend check the socket is still the connection's (getpeername).
        var straced = run.StracedOnPeer(redis.Port).Where(c => backend == "inprocess" || c.Name is "recvfrom" or "sendto").ToList();
        Assert.Contains(straced, static c => c.Name == "sendto");
        run.AssertSharedAre(straced, redis.Endpoint);
    }
}
