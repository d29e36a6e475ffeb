using IoTrace.RealClients.Tests.TestSupport;
using Xunit;

namespace IoTrace.RealClients.Tests;

/// <summary>
/// NATS through NATS.Net, whose connection writes and reads its socket on its own threads: the report shows each publish
/// the request made, from the client's activities, on the line that made it, as strace saw it sent, none of the
/// socket's IO among the request's own calls, and the socket's calls while the request used it as shared rows.
/// </summary>
public sealed class NatsTests(NatsServer nats)
{
    [Theory]
    [InlineData("inprocess")]
    [InlineData("ebpf")]
    [InlineData("dtrace")]
    public async Task Publishes_EachOnTheLineThatMadeIt_AsStraceSawThemSent(string backend)
    {
        await nats.RequireAsync();

        // Long enough to show every publish the connection's writer batched into one write.
        var run = await HostRun.StartAsync(backend, "nats", nats.Url, stringLimit: 1024);

        Assert.Equal($"DONE {backend} True", run.Done);
        // strace prints what each write sent: a publish is "PUB <subject> <size>", or "HPUB" with headers.
        var sent = run.SentOnPeer(nats.Port);
        long Sent(string subject) => sent.Split($"PUB {subject} ").Length - 1;
        Assert.Equal((1L, 3L), (Sent("iotrace.orders"), Sent("iotrace.events")));
        Assert.Equal(
            [("iotrace.events publish", Sent("iotrace.events"), HostRun.LineOf("// the events")), ("iotrace.orders publish", Sent("iotrace.orders"), HostRun.LineOf("// the order"))],
            run.Rows.Where(static r => r.Probe == "activity").OrderBy(static r => r.Target, StringComparer.Ordinal)
                .Select(r => (r.Target.Replace($" 127.0.0.1:{nats.Port}", "", StringComparison.Ordinal), r.Calls, r.Line ?? 0)));
        Assert.All(run.Rows.Where(static r => r.Probe == "activity"), r => Assert.EndsWith($" 127.0.0.1:{nats.Port}", r.Target, StringComparison.Ordinal));
        // IoTrace made no activity: a made one would have put trace context in each message (HPUB with traceparent).
        Assert.DoesNotContain("traceparent", sent, StringComparison.Ordinal);
        // The socket's calls are the connection's loops': no backend charges them to the request.
        Assert.Empty(run.ReportedOnPeer(nats.Port));

        // They are the report's shared rows: between the markers only this request used the connection, so they are
        // strace's calls on its socket, call for call and byte for byte (the kernel backends count its reads and writes),
        // but for the getpeername with which the tracer checked, at the first publish, that the socket is the server's.
        var straced = run.StracedOnPeer(nats.Port).Where(c => c.Name != "getpeername" && (backend == "inprocess" || c.Name is "recvfrom" or "sendto")).ToList();
        Assert.Contains(straced, static c => c.Name == "sendto");
        run.AssertSharedAre(straced, $"127.0.0.1:{nats.Port}");
    }
}
