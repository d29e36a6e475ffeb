using System.Text.RegularExpressions;

namespace IoTrace.Tests.Shared;

/// <summary>
/// What strace saw of <see cref="FileSystemWork"/>, and what a report says of it, in one shape: per system call,
/// <c>"probe calls bytes"</c>, sorted, so that an assertion's failure shows the difference.
/// </summary>
internal static partial class FileSystemWorkStrace
{
    /// <summary>The calls on the work's socket that no other socket of the traced flow makes (the runtime opens and closes others).</summary>
    private static readonly string[] s_socketProbes = ["bind", "listen", "getsockname", "setsockopt", "getsockopt"];

    /// <summary>
    /// strace's calls on the work's paths (named, or on an fd strace names by such a path), and those on its socket (the
    /// one bound to 127.0.0.1, port 0).
    /// </summary>
    public static (List<StracedCall> Files, List<StracedCall> Socket) Read(IEnumerable<string> log, string root)
    {
        var folder = FileSystemWork.Folder(root);
        var calls = StraceLog.Calls(log);
        var files = calls.Where(c => StraceLog.NamesPathUnder(c, folder)).ToList();
        var bind = calls.Single(static c => c.Name == "bind" && c.Text.Contains("sin_port=htons(0), sin_addr=inet_addr(\"127.0.0.1\")", StringComparison.Ordinal));
        var socket = SocketFd().Match(bind.Text).Value;
        return (files, [.. calls.Where(c => c.Text.Contains(socket, StringComparison.Ordinal) && s_socketProbes.Contains(c.Name))]);
    }

    /// <summary>The calls of the directory listing that libc makes itself (opendir, readdir, closedir): those on the folder's own fd.</summary>
    public static bool OnTheFoldersFd(StracedCall call, string root) => call.Text.Contains($"<{FileSystemWork.Folder(root)}>", StringComparison.Ordinal);

    public static List<string> Lines(IEnumerable<StracedCall> calls) => StraceLog.Lines(calls);

    /// <summary>A report's rows on the work's paths (by target), or on its socket (by probe: its target differs by backend).</summary>
    public static (List<string> Files, List<string> Socket) Reported(IEnumerable<(string Probe, string? Target, long Calls, long Bytes)> rows, string root)
    {
        var folder = FileSystemWork.Folder(root);
        var files = rows.Where(r => r.Target is { } target && (target == folder || target.StartsWith(folder + "/", StringComparison.Ordinal)));
        var socket = rows.Where(static r => s_socketProbes.Contains(r.Probe));
        return (StraceLog.Lines(Sum(files)), StraceLog.Lines(Sum(socket)));
    }

    private static IEnumerable<(string Probe, long Calls, long Bytes)> Sum(IEnumerable<(string Probe, string? Target, long Calls, long Bytes)> rows) =>
        rows.GroupBy(static r => r.Probe).Select(static g => (g.Key, g.Sum(static r => r.Calls), g.Sum(static r => r.Bytes)));

    [GeneratedRegex(@"<socket:\[\d+\]>")]
    private static partial Regex SocketFd();
}
