using System.Globalization;
using IoTrace.AspNetCore.Logging;

namespace IoTrace.AspNetCore.Tests.TestInfrastructure;

/// <summary>
/// The exact report of a request to <see cref="TestEndpoints.FileRoute"/> traced with <c>All</c>: its own file read
/// with File.ReadAllBytesAsync (openat, flock, two fstat, one pread64 of the whole file, flock, close) on the endpoint's line,
/// through one fd, and nothing else.
/// </summary>
internal static class FileReadReports
{
    /// <summary>What is wrong with the report of a request for the file of <paramref name="size"/> bytes, or <see langword="null"/> when it is exact.</summary>
    /// <param name="app">The app that served the request (its content root names the source file).</param>
    /// <param name="size">The file's size, which names it.</param>
    /// <param name="body">The response body: "&lt;bytes read&gt; &lt;line&gt; &lt;trace id&gt; &lt;span id&gt;".</param>
    /// <param name="report">The request's report.</param>
    public static string? Mismatch(TestApp app, int size, string body, ReportFields report)
    {
        var words = body.Split(' ');
        var source = Path.GetRelativePath(app.ContentRoot, TestEndpoints.SourceFile);
        var expected = $"close 1 0, flock 2 0, fstat 2 0, openat 1 0, pread64 1 {size} | {source}:{words[1]} {TestFiles.PathOf(size)}";
        var aggregates = report.Aggregates;
        var actual = string.Join(", ", aggregates.GroupBy(a => a.Probe).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Sum(a => a.Calls)} {g.Sum(a => a.Bytes)}"))
            + " | " + string.Join("; ", aggregates.Select(a => $"{a.File}:{a.Line} {a.Target}").Distinct());
        var fds = aggregates.Select(a => a.Fd).Distinct().Count();
        if (words[0] != size.ToString(CultureInfo.InvariantCulture)
            || actual != expected
            || fds != 1
            || (report.StatusCode, report.Calls, report.Bytes, report.TraceId, report[IoTraceRequestLog.IsCompleteKey]) != (200, 7L, size, words[2], "True"))
        {
            return $"{report.Path} (trace {report.TraceId}, body '{body}', {report.Calls} calls, {report.Bytes} bytes, {fds} fds): expected [{expected}], got [{actual}]";
        }

        return null;
    }
}
