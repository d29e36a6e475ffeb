#if BENCH_PEERS
using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.HttpLogging;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Extensions.Hosting;

namespace WebDemo.Bench;

/// <summary>
/// What a user would run instead of IoTrace for per-request observability, each set up as its documentation has it for
/// production, behind <c>--Bench:Peer=</c> (with <c>--Bench:UseIoTrace=false</c>): every per-request record rendered by
/// its sink, as the bench renders IoTrace's tables, and counted as a report. Built only with <c>-p:BenchPeers=true</c>.
/// </summary>
internal static class BenchPeers
{
    public const string OpenTelemetry = "OpenTelemetry";
    public const string HttpLogging = "HttpLogging";
    public const string Serilog = "Serilog";

    public static void Add(WebApplicationBuilder builder, string? peer, BenchLogSink sink)
    {
        switch (peer)
        {
            case null or "":
                return;
            case OpenTelemetry:
                // ASP.NET Core and HttpClient spans, batched to an exporter that formats each span.
                builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddProcessor(new BatchActivityExportProcessor(new RenderingExporter(sink))));
                return;
            case HttpLogging:
                // Request and response properties and headers and the duration, in one event per request.
                builder.Services.AddHttpLogging(o =>
                {
                    o.LoggingFields = HttpLoggingFields.RequestPropertiesAndHeaders | HttpLoggingFields.ResponsePropertiesAndHeaders | HttpLoggingFields.Duration;
                    o.CombineLogs = true;
                });

                // Its category must log at Information (the docs' appsettings line), to the counting sink, not the console.
                builder.Logging.AddFilter("Microsoft.AspNetCore.HttpLogging.HttpLoggingMiddleware", LogLevel.Information);
                builder.Logging.AddFilter<ConsoleLoggerProvider>("Microsoft.AspNetCore.HttpLogging", LogLevel.Warning);
                return;
            case Serilog:
                // Serilog's request logging (one event per request) to a sink that renders it; the app's other logging
                // stays on Microsoft.Extensions.Logging, where the bench counts warnings and errors.
                var logger = new LoggerConfiguration().WriteTo.Sink(new RenderingSink(sink)).CreateLogger();
                builder.Services.AddSingleton(logger);
                builder.Services.AddSingleton(new DiagnosticContext(logger));
                builder.Services.AddSingleton<IDiagnosticContext>(sp => sp.GetRequiredService<DiagnosticContext>());
                return;
            default:
                throw new ArgumentException($"Bench:Peer '{peer}' is not one of the allowed values: {OpenTelemetry}, {HttpLogging}, {Serilog}.");
        }
    }

    /// <summary>The peer's middleware, where it goes in the pipeline (OpenTelemetry has none: it listens to the host).</summary>
    public static void Use(WebApplication app, string? peer)
    {
        if (peer == HttpLogging)
        {
            app.UseHttpLogging();
        }
        else if (peer == Serilog)
        {
            app.UseSerilogRequestLogging(o => o.Logger = app.Services.GetRequiredService<Serilog.Core.Logger>());
        }
    }

    private sealed class RenderingExporter(BenchLogSink sink) : BaseExporter<Activity>
    {
        public override ExportResult Export(in Batch<Activity> batch)
        {
            var text = new StringBuilder();
            foreach (var activity in batch)
            {
                text.Clear().Append(activity.DisplayName).Append(' ').Append(activity.TraceId).Append(' ').Append(activity.SpanId)
                    .Append(' ').Append(activity.Duration.TotalMilliseconds).Append(" ms");
                foreach (var tag in activity.TagObjects)
                {
                    text.Append(' ').Append(tag.Key).Append('=').Append(tag.Value);
                }

                sink.CountRecord(text.Length);
            }

            return ExportResult.Success;
        }
    }

    private sealed class RenderingSink(BenchLogSink sink) : ILogEventSink
    {
        public void Emit(LogEvent logEvent) => sink.CountRecord(logEvent.RenderMessage(System.Globalization.CultureInfo.InvariantCulture).Length);
    }
}
#endif
