namespace WebDemo.Bench;

/// <summary>The bench mode's own log line, category <c>WebDemo</c>; bench/soak/run.sh reads it.</summary>
internal static partial class BenchLog
{
    [LoggerMessage(EventId = 10, Level = LogLevel.Information,
        Message = "Bench finished: {Reports} reports, {Warnings} warnings, {Errors} errors; tracer tables: {Tables}; GC: {Gen0Collections}/{Gen1Collections}/{Gen2Collections} collections of gen 0/1/2, {GcPauseMs} ms paused.")]
    public static partial void Finished(ILogger logger, long reports, long warnings, long errors, string tables, int gen0Collections, int gen1Collections, int gen2Collections, long gcPauseMs);
}
