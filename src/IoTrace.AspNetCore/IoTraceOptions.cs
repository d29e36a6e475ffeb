using Microsoft.Extensions.Logging;

namespace IoTrace.AspNetCore;

/// <summary>
/// Options for the IO tracing middleware, bound from the <c>IoTrace</c> configuration section by
/// <c>AddIoTrace()</c>. Changes to the configuration apply to the next request.
/// </summary>
public sealed class IoTraceOptions
{
    internal const string DefaultSectionName = "IoTrace";

    /// <summary>
    /// Whether requests are traced. Defaults to <see langword="true"/>.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Which IO calls are recorded and how much context they keep; in configuration a name such as
    /// <c>"Write"</c> (case-insensitive). Defaults to <see cref="IoTrace.Strategy.Summary"/>, the cheapest.
    /// </summary>
    public Strategy Strategy { get; set; } = Strategy.Summary;

    /// <summary>
    /// Turns a request's report into the text of its log message. Defaults to the built-in <c>default</c> formatter.
    /// </summary>
    /// <remarks>
    /// A delegate, so that code can assign the io-trace gem's lambda contract directly:
    /// <c>o.Formatter = (stream, trace) =&gt; stream.Write(trace.TotalBytes);</c>, or a named one with
    /// <see cref="IoTraceFormatters.Get(string)"/>. In configuration the value is a formatter name, for example
    /// <c>"Formatter": "bytes"</c>: a built-in (<c>default</c>, <c>time</c>, <c>calls</c>, <c>cpu</c>, <c>wait</c>,
    /// <c>bytes</c>, <c>fds</c>, <c>files</c>) or one registered with <see cref="IoTraceFormatters.Register(string, IoTraceFormatter)"/>
    /// before the host starts, looked up case-insensitively when the options are bound.
    /// A formatter that throws is logged once and replaced by <c>default</c>; the response is never affected.
    /// </remarks>
    public IoTraceFormatter Formatter { get; set; } = IoTraceFormatters.Get(IoTraceFormatters.DefaultName);

    /// <summary>
    /// The level of the per-request log event (category <c>IoTrace</c>, event <c>RequestTraced</c>). A request is
    /// traced only while that level is enabled for the category, so logging filters can switch tracing off too.
    /// Defaults to <see cref="LogLevel.Information"/>.
    /// </summary>
    public LogLevel LogLevel { get; set; } = LogLevel.Information;

    /// <summary>
    /// What each aggregate measures; in configuration a comma-separated list such as <c>"Calls, Bytes, Time"</c>.
    /// <see cref="IoTraceFeatures.Cpu"/> and <see cref="IoTraceFeatures.Wait"/> are opt-in
    /// (<c>"Calls, Bytes, Time, Cpu"</c>, <c>"Calls, Wait"</c> or <c>"All"</c>): they cost two
    /// system calls per traced IO call, about 0.55 us on the reference machine (docs/performance.md).
    /// Defaults to <see cref="IoTraceStartOptions.DefaultFeatures"/>: calls, bytes and time.
    /// </summary>
    public IoTraceFeatures Features { get; set; } = IoTraceStartOptions.DefaultFeatures;

    /// <summary>
    /// What the logged reports hide, for logs that leave the machine: <c>"FilePaths"</c> (paths behind fds and in
    /// open and stat calls; absolute source paths print as file names), <c>"PeerAddresses"</c> (socket peers), or
    /// <c>"All"</c>. Hidden values become per-process pseudonyms such as <c>file#3f2a91c0</c>. Nothing IoTrace does
    /// is exposed over HTTP. Defaults to <see cref="IoTraceRedaction.None"/>.
    /// </summary>
    public IoTraceRedaction Redaction { get; set; }

    /// <summary>
    /// Whether reports show the runtime's own IO in a request's flow (an assembly loaded on first use, the GC reading
    /// /proc/meminfo), on rows of the method <c>(runtime)</c>; only the kernel backends (eBPF, dtrace) see it. Defaults to
    /// <see langword="false"/>. See <see cref="IoTraceStartOptions.IncludeRuntimeIo"/>.
    /// </summary>
    public bool IncludeRuntimeIo { get; set; }

    /// <summary>
    /// The mechanism that records IO. Defaults to <see cref="IoTraceBackend.Auto"/>.
    /// </summary>
    public IoTraceBackend Backend { get; set; } = IoTraceBackend.Auto;

    /// <summary>
    /// Path patterns of the requests to trace; when empty, every request not excluded is traced. Defaults to empty.
    /// </summary>
    /// <remarks>
    /// A pattern is <c>/</c> or <c>/segment/segment...</c>, matched case-insensitively against
    /// <c>HttpRequest.Path</c>: it matches its own path and every path below it (<c>/api</c> matches <c>/api</c> and
    /// <c>/api/orders</c>, not <c>/apix</c>), and a <c>*</c> segment matches any one segment (<c>/api/*/orders</c>).
    /// A malformed pattern stops the app at startup.
    /// </remarks>
    public IList<string> IncludePaths { get; } = [];

    /// <summary>
    /// Path patterns of the requests never to trace, such as health checks; they win over <see cref="IncludePaths"/>.
    /// Same syntax as <see cref="IncludePaths"/>. Defaults to empty.
    /// </summary>
    public IList<string> ExcludePaths { get; } = [];

    /// <summary>
    /// Full type name prefixes whose frames are passed over when looking for the application line behind an IO
    /// call, for example an in-house data access layer. Frames of the shared framework and of IoTrace are always
    /// skipped. Configuration adds to the list. Defaults to <see cref="IoTraceStartOptions.DefaultSkippedNamespaces"/>:
    /// <c>System.</c>, <c>Microsoft.</c>, <c>Internal.</c> and <c>Interop</c>.
    /// </summary>
    public IList<string> SkippedNamespaces { get; } = [.. IoTraceStartOptions.DefaultSkippedNamespaces];

    /// <summary>
    /// Logs only requests that made at least this many IO calls, to catch requests doing excessive IO.
    /// With both thresholds set, a request that reaches either is logged. Defaults to 0: no call threshold.
    /// </summary>
    public long MinimumCalls { get; set; }

    /// <summary>
    /// Logs only requests that read or wrote at least this many bytes, to catch requests doing excessive IO.
    /// With both thresholds set, a request that reaches either is logged. Defaults to 0: no byte threshold.
    /// </summary>
    public long MinimumBytes { get; set; }

    /// <summary>
    /// A request that makes more IO calls than this logs a warning (event <c>IoBudgetExceeded</c>, 110) with its table
    /// and the line that made most of them. An endpoint can have its own (<see cref="IoTraceAttribute.CallBudget"/>).
    /// Defaults to 0: no budget.
    /// </summary>
    public long CallBudget { get; set; }

    /// <summary>
    /// A request that reads and writes more bytes than this logs a warning (event <c>IoBudgetExceeded</c>, 110). An
    /// endpoint can have its own (<see cref="IoTraceAttribute.ByteBudget"/>). Defaults to 0: no budget.
    /// </summary>
    public long ByteBudget { get; set; }

    /// <summary>
    /// A request that opens the same file this many times or more logs a warning (event <c>RepeatedFileOpens</c>, 111)
    /// naming the file and the line that opens it most: a cache the request does not have. Needs a strategy that keeps
    /// context (not Summary). Defaults to 10; 0 switches the warning off.
    /// </summary>
    public int RepeatedOpenThreshold { get; set; } = 10;

    /// <summary>
    /// A request that makes this many reads or writes or more on one file or socket, moving fewer than
    /// <see cref="ChattyIoBytes"/> bytes each on average, logs a warning (event <c>ChattyIo</c>, 112) naming the target
    /// and the line: a buffer missing. Needs a strategy that keeps context. Defaults to 100; 0 switches it off.
    /// </summary>
    public int ChattyIoThreshold { get; set; } = 100;

    /// <summary>The average bytes per call below which <see cref="ChattyIoThreshold"/> counts calls as small. Defaults to 256.</summary>
    public int ChattyIoBytes { get; set; } = 256;

    /// <summary>
    /// A request that writes to one socket peer this many times or more logs a warning (event <c>RepeatedRoundTrips</c>,
    /// 113) naming the peer and the line: one query per item, where one for all would do (N+1). Needs a strategy that
    /// keeps context and records writes (Write or All). Defaults to 25; 0 switches it off.
    /// </summary>
    public int RoundTripThreshold { get; set; } = 25;

    /// <summary>
    /// Whether a traced response carries its IO so far as a <c>Server-Timing</c> entry
    /// (<c>io;dur=0.123;desc="4 calls, 5699 B"</c>), for a browser's network panel: in its headers, and whole in its
    /// trailers over HTTP/2 and later. It shows what the request did to anyone who sees the response: leave it off where
    /// that is not wanted. Under a backend that counts calls after they return (eBPF) the entry says so instead. Defaults
    /// to <see langword="false"/>.
    /// </summary>
    public bool ServerTiming { get; set; }

    /// <summary>
    /// The share of requests traced, from 0 (none) to 1 (every request the paths and the log level let through), to
    /// bound the tracer's cost on a busy production server. Defaults to 1.
    /// </summary>
    /// <remarks>
    /// A request with a W3C trace id (ASP.NET Core's request activity) is picked by that id: its right-most 7 bytes,
    /// which W3C Trace Context level 2 makes random, read as a number, fall under the ratio. So every service that
    /// samples at the same ratio picks the same traces, and a retried request with the same trace id is picked again.
    /// A request without one is picked at random. A request left out goes straight to the next middleware, without
    /// allocating: it costs the draw (a read of the trace id) more than a request outside the paths.
    /// </remarks>
    public double SamplingRatio { get; set; } = 1;

    /// <summary>The configuration path the options were bound from, for validation messages.</summary>
    internal string ConfigurationPath { get; set; } = DefaultSectionName;

    /// <summary>Values in configuration that could not be bound; reported by the validator, so binding never throws.</summary>
    internal List<string> ConfigurationErrors { get; } = [];

    /// <summary>A copy that <c>UseIoTrace(configure)</c> can change without touching the instance the options monitor caches.</summary>
    internal IoTraceOptions Clone()
    {
        var clone = new IoTraceOptions
        {
            Enabled = Enabled,
            Strategy = Strategy,
            Formatter = Formatter,
            LogLevel = LogLevel,
            Features = Features,
            Redaction = Redaction,
            IncludeRuntimeIo = IncludeRuntimeIo,
            ServerTiming = ServerTiming,
            Backend = Backend,
            MinimumCalls = MinimumCalls,
            MinimumBytes = MinimumBytes,
            CallBudget = CallBudget,
            ByteBudget = ByteBudget,
            RepeatedOpenThreshold = RepeatedOpenThreshold,
            ChattyIoThreshold = ChattyIoThreshold,
            ChattyIoBytes = ChattyIoBytes,
            RoundTripThreshold = RoundTripThreshold,
            SamplingRatio = SamplingRatio,
            ConfigurationPath = ConfigurationPath,
        };
        clone.SkippedNamespaces.Clear();
        CopyTo(IncludePaths, clone.IncludePaths);
        CopyTo(ExcludePaths, clone.ExcludePaths);
        CopyTo(SkippedNamespaces, clone.SkippedNamespaces);
        clone.ConfigurationErrors.AddRange(ConfigurationErrors);
        return clone;
    }

    private static void CopyTo(IList<string> source, IList<string> target)
    {
        foreach (var item in source)
        {
            target.Add(item);
        }
    }
}
