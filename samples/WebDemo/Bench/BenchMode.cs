using Microsoft.Extensions.Logging.Console;

namespace WebDemo.Bench;

/// <summary>
/// <c>--bench</c>: the app that bench/load/run.sh and bench/soak/run.sh drive. Two endpoints sit behind one
/// <c>UseIoTrace()</c> that follows configuration, so each configuration of the benchmark is a command-line switch:
/// <c>--Bench:UseIoTrace=false</c> leaves the middleware out altogether (the baseline), <c>--IoTrace:Enabled=false</c>
/// keeps it with tracing off, and <c>--IoTrace:Strategy=All</c> picks the strategy. appsettings.Bench.json, loaded
/// over appsettings.json, sets the product's default features (no <c>cpu</c>) and silences the per-request
/// access log.
/// </summary>
internal static class BenchMode
{
    public const string Switch = "--bench";

    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = [.. args.Where(a => a != Switch)],
            EnvironmentName = "Bench",
        });

        // Reports go to a sink that counts them: writing 10,000 tables a second to the console would cost more
        // than the tracer being measured. The formatter still renders every table, as it would for any sink.
        // Warnings and errors still reach the console, where the soak script looks for them.
        var sink = new BenchLogSink();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.AddFilter<ConsoleLoggerProvider>("IoTrace", LogLevel.Warning);
        builder.Logging.AddProvider(sink);
        builder.Services.AddIoTrace();
#if IOTRACE_EBPF
        builder.Services.AddEbpfBackend();
#endif
#if IOTRACE_DTRACE
        builder.Services.AddDTraceBackend();
#endif
        builder.Services.AddHttpClient();
#if BENCH_PEERS
        var peer = builder.Configuration["Bench:Peer"];
        BenchPeers.Add(builder, peer, sink);
#endif

        var app = builder.Build();
        var endpoints = new BenchEndpoints(
            app.Services.GetRequiredService<IHttpClientFactory>(),
            Path.Combine(app.Environment.ContentRootPath, "data", "motd.txt"));

        // The upstream branches off before the middleware, so it costs the same in every configuration.
        app.Map(BenchEndpoints.UpstreamPath, upstream => upstream.Run(BenchEndpoints.UpstreamAsync));

        // How many methods the JIT has compiled, tier-ups included: the load script warms up until it stops growing.
        app.Map(BenchEndpoints.JittedPath, jitted => jitted.Run(BenchEndpoints.Jitted));
        if (app.Configuration.GetValue("Bench:UseIoTrace", defaultValue: true))
        {
            app.UseIoTrace();
        }
#if BENCH_PEERS
        BenchPeers.Use(app, peer);
#endif

        app.MapGet("/bench/io", endpoints.IoAsync);
        app.MapGet("/bench/trivial", BenchEndpoints.Trivial);

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("WebDemo");
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            var tables = IoTrace.IoTracer.GetStatistics().ToString();
            var (gen0, gen1, gen2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
            var pauseMs = (long)GC.GetTotalPauseDuration().TotalMilliseconds;
            BenchLog.Finished(logger, sink.Reports, sink.Warnings, sink.Errors, tables, gen0, gen1, gen2, pauseMs);
        });

        await app.RunAsync();
        return 0;
    }
}
