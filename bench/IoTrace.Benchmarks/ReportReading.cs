using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using IoTrace.AspNetCore.Reporting;
using IoTrace.Formatting;
using IoTrace.Probes;

namespace IoTrace.Benchmarks;

/// <summary>
/// What the middleware does with a finished report of a <c>/bench/io</c> request (a file read and a pooled HttpClient
/// call), per request: the default formatter's table, as a text sink asks for it, and the warnings' check under the
/// default thresholds (none reached, as on most requests).
/// </summary>
[MemoryDiagnoser]
public class ReportReading
{
    private static readonly IoWarningThresholds s_defaultThresholds = new(0, 0, RepeatedOpens: 10, ChattyCalls: 100, ChattyBytes: 256, RoundTrips: 25);

    private readonly StringBuilder _text = new();
    private IoTraceReport? _report;

    [Params(Strategy.Summary, Strategy.All)]
    public Strategy Strategy { get; set; }

    [GlobalSetup]
    public void Setup() => _report = Strategy == Strategy.Summary ? SummaryReport() : AllReport();

    [Benchmark]
    public int Render()
    {
        _text.Clear();
        using var writer = new StringWriter(_text, CultureInfo.InvariantCulture);
        BuiltInFormatters.Default(writer, _report!);
        return _text.Length;
    }

    [Benchmark]
    public int Warnings() => IoWarnings.Find(_report!, s_defaultThresholds, endpoint: null)?.Count ?? 0;

    private static IoTraceReport SummaryReport() => new(Strategy.Summary, "in-process", TimeSpan.FromMilliseconds(1.2), features: IoTraceStartOptions.DefaultFeatures, aggregates:
    [
        Row("openat", 1, 0), Row("fstat", 1, 0), Row("pread64", 2, 241), Row("close", 1, 0),
        Row("sendmsg", 1, 104), Row("recvfrom", 3, 5_491), Row("getpeername", 1, 0),
    ]);

    private static IoTraceReport AllReport() => new(Strategy.All, "in-process", TimeSpan.FromMilliseconds(1.2), features: IoTraceStartOptions.DefaultFeatures, aggregates:
    [
        Row("openat", 1, 0, 11, 9, "/app/data/motd.txt", IoTargetKind.File),
        Row("fstat", 1, 0, 11, 9, "/app/data/motd.txt", IoTargetKind.File),
        Row("pread64", 2, 241, 11, 9, "/app/data/motd.txt", IoTargetKind.File),
        Row("close", 1, 0, 11, 9, "/app/data/motd.txt", IoTargetKind.File),
        Row("sendmsg", 1, 104, 13, 27, "127.0.0.1:5000", IoTargetKind.Socket),
        Row("recvfrom", 3, 5_491, 13, 27, "127.0.0.1:5000", IoTargetKind.Socket),
        Row("getpeername", 1, 0, 13, 27, "127.0.0.1:5000", IoTargetKind.Socket),
    ]);

    private static IoAggregate Row(string probe, long calls, long bytes, int? line = null, int? fd = null, string? target = null, IoTargetKind kind = IoTargetKind.Other) =>
        new(ProbeCatalog.Name(ProbeCatalog.IndexOf(probe)), line is null ? null : "Bench/BenchEndpoints.cs", line, null, fd, target, calls, bytes,
            TimeSpan.FromTicks(calls * 37), TimeSpan.FromTicks(calls * 21), kind);
}
