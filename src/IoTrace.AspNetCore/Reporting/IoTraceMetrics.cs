using System.Diagnostics;
using System.Diagnostics.Metrics;
using IoTrace.Probes;

namespace IoTrace.AspNetCore.Reporting;

/// <summary>
/// The <c>IoTrace</c> meter, for fleets: per traced request, histograms of its IO calls, bytes and time, one measurement
/// per probe class (read, write, transfer, setup) and target kind (file, socket, other) it used, tagged with its route, method and
/// status class. Never a path or a peer: their cardinality has no bound. Costs nothing while no listener (an
/// OpenTelemetry <c>AddMeter("IoTrace")</c>, dotnet-counters) enables an instrument.
/// </summary>
internal sealed class IoTraceMetrics : ITracedRequestObserver, IDisposable
{
    public const string MeterName = "IoTrace";

    // The tags' values, indexed as the per-request totals are.
    private static readonly string[] s_probeClasses = ["read", "write", "transfer", "setup", "other"];
    private static readonly string[] s_targetKinds = ["other", "file", "socket"];

    private readonly Meter _meter;
    private readonly Histogram<long> _calls;
    private readonly Histogram<long> _bytes;
    private readonly Histogram<double> _time;

    /// <summary>The meter, from the host's <paramref name="meterFactory"/> where it has one.</summary>
    public IoTraceMetrics(IMeterFactory? meterFactory)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _calls = _meter.CreateHistogram<long>("iotrace.request.calls", "{call}", "IO calls a traced request made, per probe class and target kind.");
        _bytes = _meter.CreateHistogram<long>("iotrace.request.bytes", "By", "Bytes a traced request read and wrote, per probe class and target kind.");
        _time = _meter.CreateHistogram<double>("iotrace.request.io_time", "s", "Wall time a traced request spent in IO calls, per probe class and target kind.");
    }

    public void OnTraced(in TracedRequest request)
    {
        if (!_calls.Enabled && !_bytes.Enabled && !_time.Enabled)
        {
            return;
        }

        // Summed on the stack per probe class and target kind, without LINQ: this runs once per traced request.
        Span<Totals> totals = stackalloc Totals[s_probeClasses.Length * s_targetKinds.Length];
        var aggregates = request.Report.Aggregates;
        for (var i = 0; i < aggregates.Count; i++)
        {
            var aggregate = aggregates[i];
            ref var sum = ref totals[(ProbeClassIndex(aggregate.Probe) * s_targetKinds.Length) + TargetKindIndex(aggregate.TargetKind)];
            sum.Calls += aggregate.Calls;
            sum.Bytes += aggregate.Bytes;
            sum.Time += aggregate.Time;
        }

        var status = StatusClass(request.StatusCode);
        for (var i = 0; i < totals.Length; i++)
        {
            if (totals[i].Calls == 0)
            {
                continue;
            }

            var tags = new TagList
            {
                { "http.request.method", request.Method },
                { "iotrace.status_class", status },
                { "iotrace.probe_class", s_probeClasses[i / s_targetKinds.Length] },
                { "iotrace.target_kind", s_targetKinds[i % s_targetKinds.Length] },
            };
            if (request.Route is { } route)
            {
                tags.Add("http.route", route);
            }

            _calls.Record(totals[i].Calls, in tags);
            _bytes.Record(totals[i].Bytes, in tags);
            _time.Record(totals[i].Time.TotalSeconds, in tags);
        }
    }

    public void Dispose() => _meter.Dispose();

    private static int ProbeClassIndex(string probe) =>
        ProbeCatalog.TryGetKind(probe, out var kind) ? kind switch { ProbeKind.Read => 0, ProbeKind.Write => 1, ProbeKind.Transfer => 2, _ => 3 } : 4;

    private static int TargetKindIndex(IoTargetKind kind) => kind switch
    {
        IoTargetKind.File => 1,
        IoTargetKind.Socket => 2,
        _ => 0,
    };

    private static string StatusClass(int status) => status switch
    {
        >= 100 and < 200 => "1xx",
        >= 200 and < 300 => "2xx",
        >= 300 and < 400 => "3xx",
        >= 400 and < 500 => "4xx",
        >= 500 and < 600 => "5xx",
        _ => "other",
    };

    private struct Totals
    {
        public long Calls;
        public long Bytes;
        public TimeSpan Time;
    }
}
