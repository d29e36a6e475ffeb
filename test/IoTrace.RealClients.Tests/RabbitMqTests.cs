using IoTrace.RealClients.Tests.TestSupport;
using Xunit;

namespace IoTrace.RealClients.Tests;

/// <summary>
/// RabbitMQ through RabbitMQ.Client 7, whose connection writes and reads its socket on tasks of its own: the report shows
/// each publish the request made, from the client's activities, on the line that made it, as strace saw it sent, and
/// none of the socket's IO among the request's own calls. The client tags its server only on activities it records, so
/// the connection's calls are not shared rows.
/// </summary>
public sealed class RabbitMqTests(RabbitMqServer rabbitMq)
{
    [Theory]
    [InlineData("inprocess")]
    [InlineData("ebpf")]
    [InlineData("dtrace")]
    public async Task Publishes_EachOnTheLineThatMadeIt_AsStraceSawThemSent(string backend)
    {
        await rabbitMq.RequireAsync();

        // Long enough to show each publish's routing key in the frames the writer sent.
        var run = await HostRun.StartAsync(backend, "rabbitmq", rabbitMq.Url, stringLimit: 1024);

        Assert.Equal($"DONE {backend} True", run.Done);
        var sent = run.SentOnPeer(rabbitMq.Port);
        long Sent(string routingKey) => sent.Split(routingKey).Length - 1;
        Assert.Equal((1L, 3L), (Sent("iotrace.orders"), Sent("iotrace.events")));
        Assert.Equal(
            [("publish iotrace.events", Sent("iotrace.events"), HostRun.LineOf("// the rabbit events")), ("publish iotrace.orders", Sent("iotrace.orders"), HostRun.LineOf("// the rabbit order"))],
            run.Rows.Where(static r => r.Probe == "activity").OrderBy(static r => r.Target, StringComparer.Ordinal).Select(static r => (r.Target, r.Calls, r.Line ?? 0)));
        // IoTrace made no activity: a made one would have put trace context in each message's headers.
        Assert.DoesNotContain("traceparent", sent, StringComparison.Ordinal);
        // The socket's calls are the connection's loops': no backend charges them to the request.
        Assert.Empty(run.ReportedOnPeer(rabbitMq.Port));
        Assert.Empty(run.Shared);
    }
}
