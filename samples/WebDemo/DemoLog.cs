namespace WebDemo;

/// <summary>The demo's own log lines, category <c>WebDemo</c>.</summary>
internal static partial class DemoLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = """
        IoTrace WebDemo on {Address}. Try:
          curl {Address}          the seed's app: an HTTP fetch, a file read and a file write, traced with Write
          curl {Address}read      the Read strategy
          curl {Address}setup     the Setup strategy
          curl {Address}all       the All strategy
          curl {Address}sqlite    a SQLite query, traced with the strategy in appsettings.json (edit it while the app runs)
        Ctrl+C stops.
        """)]
    public static partial void Listening(ILogger logger, Uri address);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Demo finished: {Count} requests, {Outcome}.")]
    public static partial void DemoFinished(ILogger logger, int count, string outcome);
}
