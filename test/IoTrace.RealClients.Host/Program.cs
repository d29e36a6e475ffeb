using System.IO.Compression;
using System.Net;
using System.Text.Json;
using IoTrace;
using IoTrace.DTrace;
using IoTrace.Ebpf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using IoTrace.StackExchangeRedis;
using NATS.Client.Core;
using RabbitMQ.Client;
using Npgsql;
using StackExchange.Redis;

// Usage: IoTrace.RealClients.Host <inprocess|ebpf|dtrace> <workload> <argument>
// Prepares a workload, then does it in a trace (All) between two markers strace shows (a stat of /iotrace-marker/begin
// and of /iotrace-marker/end, which do not exist), then prints the report's rows, tab-separated (probe, file, line,
// calls, bytes, target, fd), its shared connections' rows (file "(shared)"), and "DONE <backend> <complete>". The tests assert lines of this file by the comments on
// them ("// the query"), not by number.
var (backend, workload, argument) = (args[0], args[1], args[2]);
if (backend == "ebpf")
{
    IoTracer.AddBackend(IoTraceEbpf.Backend);
}
else if (backend == "dtrace")
{
    IoTracer.AddBackend(IoTraceDTrace.Backend);
}

if (!IoTracer.TryEnable(backend, out var reason))
{
    Console.WriteLine($"FAILED {reason}");
    return 1;
}

IoTraceReport report = workload switch
{
    "npgsql-cold" => await NpgsqlCold(argument),
    "npgsql-pooled" => await NpgsqlPooled(argument),
    "redis" => await Redis(argument),
    "nats" => await Nats(argument),
    "rabbitmq" => await RabbitMq(argument),
    "zip" => await Traced(() => Zip(argument)),
    "json" => await Json(argument),
    "copy" => await Traced(() => Copy(argument)),
    "enumerate" => await Traced(() => Enumerate(argument)),
    "resolve" => await Traced(() => Resolve(argument)),
    "reverse" => await Traced(() => Reverse(IPAddress.Parse(argument))),
    "http2" => await Http2(Strategy.All, int.Parse(argument, System.Globalization.CultureInfo.InvariantCulture)),
    "http2-summary" => await Http2(Strategy.Summary, int.Parse(argument, System.Globalization.CultureInfo.InvariantCulture)),
    _ => throw new ArgumentException($"Unknown workload '{workload}'. Allowed values: npgsql-cold, npgsql-pooled, redis, nats, rabbitmq, zip, json, copy, enumerate, resolve, reverse, http2, http2-summary."),
};

foreach (var a in report.Aggregates)
{
    Console.WriteLine(string.Join('\t', a.Probe, Path.GetFileName(a.File), a.Line, a.Calls, a.Bytes, a.Target, a.Fd));
}

foreach (var a in report.SharedAggregates)
{
    Console.WriteLine(string.Join('\t', a.Probe, "(shared)", a.Line, a.Calls, a.Bytes, a.Target, a.Fd));
}

Console.WriteLine($"DONE {report.Backend} {report.IsComplete}");
return 0;

static async Task<IoTraceReport> Traced(Func<Task> work)
{
    Marker("begin");
    var report = await IoTracer.TraceAsync(Strategy.All, work);
    Marker("end");
    return report;
}

static void Marker(string name) => _ = File.Exists($"/iotrace-marker/{name}");

// A connection of its own (no pool), opened, queried and closed in the trace.
static async Task<IoTraceReport> NpgsqlCold(string connectionString)
{
    await using var source = NpgsqlDataSource.Create(connectionString + ";Pooling=false");
    return await Traced(async () =>
    {
        await using var connection = await source.OpenConnectionAsync(); // the cold open
        await using var command = new NpgsqlCommand("SELECT repeat('x', 1000)", connection);
        _ = await command.ExecuteScalarAsync(); // the cold query
    });
}

// A pooled connection, opened once before the trace: the trace's open takes it from the pool.
static async Task<IoTraceReport> NpgsqlPooled(string connectionString)
{
    await using var source = NpgsqlDataSource.Create(connectionString);
    await using (var warm = await source.OpenConnectionAsync())
    {
        await using var ping = new NpgsqlCommand("SELECT 1", warm);
        _ = await ping.ExecuteScalarAsync();
    }

    return await Traced(async () =>
    {
        await using var connection = await source.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT repeat('x', 1000)", connection);
        _ = await command.ExecuteScalarAsync(); // the pooled query
    });
}

// A multiplexed connection, connected before the trace: its socket IO runs on its own threads.
static async Task<IoTraceReport> Redis(string endpoint)
{
    await using var connection = await ConnectionMultiplexer.ConnectAsync(endpoint);
    IoTraceRedis.Instrument(connection);
    var database = connection.GetDatabase();
    return await Traced(async () =>
    {
        await database.StringSetAsync("iotrace", new string('v', 500)); // the set
        for (var i = 0; i < 3; i++)
        {
            _ = await database.StringGetAsync("iotrace"); // the gets
        }

        await Delete(database);
    });
}

// A NATS connection, connected before the trace: its reader and writer loops do the socket IO on threads of their own,
// and its publishes are activities of its source (NATS.Net), which IoTrace reports without being told.
static async Task<IoTraceReport> Nats(string url)
{
    await using var connection = new NatsConnection(new NatsOpts { Url = url });
    await connection.ConnectAsync();
    return await Traced(async () =>
    {
        await connection.PublishAsync("iotrace.orders", new string('o', 300)); // the order
        for (var i = 0; i < 3; i++)
        {
            await connection.PublishAsync("iotrace.events", "e"); // the events
        }

        // Answered once the server has read everything sent before it: the publishes are on the wire.
        _ = await connection.PingAsync();
    });
}

// A RabbitMQ connection, opened before the trace: its reader and writer loops do the socket IO on tasks of their own,
// and its publishes are activities of its publisher source (RabbitMQ.Client.Publisher), reported without being named.
// Confirmed publishes: each is awaited until the broker acknowledged it, so all are on the wire before the trace ends.
static async Task<IoTraceReport> RabbitMq(string url)
{
    var factory = new ConnectionFactory { Uri = new Uri(url) };
    await using var connection = await factory.CreateConnectionAsync();
    await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
    _ = await channel.QueueDeclareAsync("iotrace.orders", durable: false, exclusive: true, autoDelete: true);
    _ = await channel.QueueDeclareAsync("iotrace.events", durable: false, exclusive: true, autoDelete: true);
    return await Traced(async () =>
    {
        await channel.BasicPublishAsync("", "iotrace.orders", new byte[300]); // the rabbit order
        for (var i = 0; i < 3; i++)
        {
            await channel.BasicPublishAsync("", "iotrace.events", new byte[1]); // the rabbit events
        }
    });
}

static async Task Delete(IDatabase database) => await database.KeyDeleteAsync("iotrace"); // the delete

// The caller made <root>/tree (seven folders, a file in each).
static Task Zip(string root)
{
    ZipFile.CreateFromDirectory(Path.Combine(root, "tree"), Path.Combine(root, "tree.zip")); // the zip create
    ZipFile.ExtractToDirectory(Path.Combine(root, "tree.zip"), Path.Combine(root, "extracted")); // the zip extract
    return Task.CompletedTask;
}

// The caller wrote <root>/items.json: an array of objects.
static async Task<IoTraceReport> Json(string root)
{
    return await Traced(async () =>
    {
        await using var stream = new FileStream(Path.Combine(root, "items.json"), FileMode.Open, FileAccess.Read, FileShare.Read, 4096, useAsync: true); // the json open
        var items = await JsonSerializer.DeserializeAsync<JsonElement[]>(stream); // the json read
        if (items is not { Length: > 0 })
        {
            throw new InvalidDataException("items.json held no items");
        }
    });
}

// The caller made <root>/tree (seven folders, a file in each); <root>/missing does not exist.
static Task Enumerate(string root)
{
    var files = Directory.EnumerateFiles(Path.Combine(root, "tree"), "*", SearchOption.AllDirectories).Count(); // the enumeration
    if (files != 7)
    {
        throw new InvalidDataException($"expected 7 files, found {files}");
    }

    try
    {
        _ = Directory.EnumerateFiles(Path.Combine(root, "missing")).Count(); // the missing enumeration
    }
    catch (DirectoryNotFoundException)
    {
    }

    return Task.CompletedTask;
}

// The caller wrote <root>/source.bin (1 MiB).
static Task Copy(string root)
{
    File.Copy(Path.Combine(root, "source.bin"), Path.Combine(root, "copy.bin")); // the copy
    return Task.CompletedTask;
}

static async Task Resolve(string host)
{
    _ = Dns.GetHostAddresses(host); // the resolution
    _ = await Dns.GetHostAddressesAsync(host); // the async resolution
}

// Dns.GetHostEntry of an address: getnameinfo, then getaddrinfo of the name found (the entry's addresses).
static async Task Reverse(IPAddress address)
{
    _ = Dns.GetHostEntry(address); // the reverse resolution
    _ = await Dns.GetHostEntryAsync(address); // the async reverse resolution
}

// Two traced flows share one HTTP/2 connection (h2c to a Kestrel of this process): the first opens it and sends two
// requests around the second's, which goes out while the first's trace runs. Prints the first's rows ("first:" before
// the probe), then the second's.
static async Task<IoTraceReport> Http2(Strategy strategy, int size)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
    builder.Logging.ClearProviders();
    await using var app = builder.Build();
    app.MapGet("/{n:int}", (int n) => new string('x', n));
    await app.StartAsync();
    using var client = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
    var url = app.Urls.First();
    var firstAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    var secondAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    Marker("begin");
    var first = IoTracer.TraceAsync(strategy, async () =>
    {
        _ = await client.GetStringAsync($"{url}/{size}"); // the first request
        firstAnswered.SetResult();
        await secondAnswered.Task;
        _ = await client.GetStringAsync($"{url}/{size}"); // the first's second request
    });
    var second = IoTracer.TraceAsync(strategy, async () =>
    {
        await firstAnswered.Task;
        _ = await client.GetStringAsync($"{url}/{size * 3}"); // the second request
        secondAnswered.SetResult();
    });
    var reports = await Task.WhenAll(first, second);
    Marker("end");
    foreach (var a in reports[0].Aggregates)
    {
        Console.WriteLine(string.Join('\t', "first:" + a.Probe, Path.GetFileName(a.File), a.Line, a.Calls, a.Bytes, a.Target, a.Fd));
    }

    foreach (var a in reports[0].SharedAggregates)
    {
        Console.WriteLine(string.Join('\t', "first:" + a.Probe, "(shared)", a.Line, a.Calls, a.Bytes, a.Target, a.Fd));
    }

    await app.StopAsync();
    return reports[1];
}
