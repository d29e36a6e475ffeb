namespace IoTrace;

/// <summary>
/// Writes a report to a stream: the io-trace gem's <c>lambda { |stream, trace| ... }</c> contract.
/// </summary>
/// <param name="stream">Where the formatted report goes.</param>
/// <param name="trace">The report to format.</param>
public delegate void IoTraceFormatter(TextWriter stream, IoTraceReport trace);
