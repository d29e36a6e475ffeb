using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;

namespace IoTrace.Tests.TestSupport;

/// <summary>
/// Runs the IoTrace.Tests.Target child under <c>strace -f -y</c> and reads back both sides: what the child's own
/// trace reported, and the calls strace saw on the same path (by name, or through an fd it decodes) in the same process.
/// </summary>
internal static partial class Strace
{
    public const string Syscalls = "openat,close,read,pread64,write,pwrite64,newfstatat,stat,lstat,fstat,fcntl,fsync,fdatasync";

    public static async Task<(IReadOnlyList<ReportedAggregate> Report, IReadOnlyDictionary<string, (long Calls, long Bytes)> Strace, string[] StraceLines)> RunAsync(string mode, string path)
    {
        var output = Path.Combine(Path.GetDirectoryName(path)!, $"strace-{Guid.NewGuid():N}.txt");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? Environment.ProcessPath ?? "dotnet";
        var target = Path.Combine(AppContext.BaseDirectory, "IoTrace.Tests.Target.dll");
        var start = new ProcessStartInfo("strace")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList = { "-f", "-qq", "-y", "-o", output, "-e", $"trace={Syscalls}", "-e", "signal=none", dotnet, target, mode, path },
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"child exited {process.ExitCode}: {await stderr}");

        var report = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t'))
            .Select(f => new ReportedAggregate(f[0], f[1], f[2], f[3], long.Parse(f[4], System.Globalization.CultureInfo.InvariantCulture), long.Parse(f[5], System.Globalization.CultureInfo.InvariantCulture)))
            .ToList();
        var lines = await File.ReadAllLinesAsync(output, TestContext.Current.CancellationToken);
        return (report, Parse(lines, path), lines);
    }

    /// <summary>
    /// Per syscall on <paramref name="path"/> (a file, or an fd as strace -y names it: <c>pipe:[1234]</c>): calls, and the
    /// sum of positive results of the read and write family. Interrupted calls (<c>= ? ERESTARTSYS</c>) have no result and do not count.
    /// </summary>
    public static Dictionary<string, (long Calls, long Bytes)> Parse(IEnumerable<string> lines, string path)
    {
        var totals = new Dictionary<string, (long Calls, long Bytes)>();
        var pending = new Dictionary<string, bool>();
        foreach (var line in lines)
        {
            // "1234 pread64(3</tmp/f>, ...) = 4096"; a call split by another thread's output is
            // "1234 pread64(3</tmp/f>, <unfinished ...>" then "1234 <... pread64 resumed>...) = 4096".
            var call = Call().Match(line);
            if (!call.Success)
            {
                continue;
            }

            var pid = call.Groups["pid"].Value;
            var onPath = line.Contains($"<{path}>", StringComparison.Ordinal) || line.Contains($"\"{path}\"", StringComparison.Ordinal);
            if (call.Groups["unfinished"].Success)
            {
                pending[pid] = onPath;
                continue;
            }

            if (call.Groups["resumed"].Success)
            {
                onPath = pending.Remove(pid, out var started) && started;
            }

            if (!onPath || !call.Groups["result"].Success)
            {
                continue;
            }

            var name = call.Groups["name"].Value;
            var result = long.Parse(call.Groups["result"].Value, System.Globalization.CultureInfo.InvariantCulture);
            var transfers = name is "read" or "pread64" or "write" or "pwrite64";
            var (calls, bytes) = totals.GetValueOrDefault(name);
            totals[name] = (calls + 1, bytes + (transfers && result > 0 ? result : 0));
        }

        return totals;
    }

    [GeneratedRegex(@"^(?<pid>\d+)\s+(?:(?<resumed><\.\.\. )(?<name>\w+) resumed>|(?<name>\w+)\()(?:.*<(?<unfinished>unfinished) \.\.\.>$|.*\)\s+=\s+(?<result>-?\d+))?")]
    private static partial Regex Call();

    internal sealed record ReportedAggregate(string Probe, string Target, string File, string Line, long Calls, long Bytes);
}
