namespace IoTrace.Testing;

/// <summary>One traced request, as <see cref="IoTraceCollector"/> collected it: what it was, and its report.</summary>
public sealed class IoTraceRecord
{
    internal IoTraceRecord(string method, string path, string? route, int statusCode, IoTraceReport report)
    {
        Method = method;
        Path = path;
        Route = route;
        StatusCode = statusCode;
        Report = report;
    }

    /// <summary>The request's HTTP method.</summary>
    public string Method { get; }

    /// <summary>The request's path, as it reached the middleware.</summary>
    public string Path { get; }

    /// <summary>The route pattern of the endpoint that served it, where routing ran before the middleware.</summary>
    public string? Route { get; }

    /// <summary>The response's status code.</summary>
    public int StatusCode { get; }

    /// <summary>The IO the request made.</summary>
    public IoTraceReport Report { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Method} {Path} ({StatusCode}): {Report.TotalCalls} calls, {Report.TotalBytes} bytes";
}
