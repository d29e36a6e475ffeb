// The io-trace gem's config.ru, translated:
//
//   app = lambda do |env|
//     resp = Net::HTTP.get('www.wildfireapp.com', '/')
//     [200, {"Content-Type" => "text/plain"}, [resp]]
//   end
//   use IO::Trace::Middleware, :strategy => :WRITE, :stream => Logger.new(STDOUT)
//   run app
//
// The machine has no internet, so the page comes from /upstream, which this app serves itself on loopback.
using IoTrace;
using WebDemo;
using WebDemo.Bench;

if (args.Contains(BenchMode.Switch))
{
    // The app that bench/load and bench/soak drive: see Bench/BenchMode.cs.
    return await BenchMode.RunAsync(args);
}

var demo = args.Contains("--demo");
var builder = WebApplication.CreateBuilder(args.Where(a => a != "--demo").ToArray());
if (demo)
{
    // Any free loopback port, so a CI run never collides with a running copy.
    builder.WebHost.UseUrls("http://127.0.0.1:0");
}

var finished = new RequestFinishedSignal();
builder.Logging.AddProvider(finished);
builder.Services.AddIoTrace().AddIoTracePage();   // the page at /iotrace: the last 100 traced requests
#if IOTRACE_EBPF
builder.Services.AddEbpfBackend();
#endif
#if IOTRACE_DTRACE
builder.Services.AddDTraceBackend();
#endif
#if IOTRACE_ETW
builder.Services.AddEtwBackend();
#endif
builder.Services.AddHttpClient();

var app = builder.Build();
var work = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "iotrace-webdemo"));
var endpoints = new DemoEndpoints(
    app.Services.GetRequiredService<IHttpClientFactory>(),
    Path.Combine(app.Environment.ContentRootPath, "data"),
    work.FullName);
endpoints.CreateVisitsTable();

// The other strategies, each on its own branch with its own middleware. Branches come first, so the
// Write middleware below never sees their requests. /sqlite takes its strategy from appsettings.json's
// IoTrace section: edit it while the app runs and the next request uses the new one.
app.Map("/read", branch => branch.UseIoTrace(o => o.Strategy = Strategy.Read).Run(endpoints.ReadAsync));
app.Map("/setup", branch => branch.UseIoTrace(o => o.Strategy = Strategy.Setup).Run(endpoints.SetupAsync));
app.Map("/all", branch => branch.UseIoTrace(o => o.Strategy = Strategy.All).Run(endpoints.AllAsync));
app.Map("/sqlite", branch => branch.UseIoTrace().Run(endpoints.SqliteAsync));

// use IO::Trace::Middleware, :strategy => :WRITE
app.UseIoTrace(o => o.Strategy = Strategy.Write);

app.MapGet("/", endpoints.IndexAsync);
app.MapGet("/upstream", DemoEndpoints.Upstream);
app.MapIoTracePage();   // Development environment and loopback only

await app.StartAsync();
var address = new Uri(app.Urls.First());
var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("WebDemo");
if (demo)
{
    var ok = await DemoRun.RunAsync(address, finished, logger);
    await app.StopAsync();
    await app.DisposeAsync();
    return ok ? 0 : 1;
}

DemoLog.Listening(logger, address);
await app.WaitForShutdownAsync();
return 0;

/// <summary>The demo app's entry point, public for its tests' <c>WebApplicationFactory&lt;Program&gt;</c>.</summary>
public partial class Program;
