using System.Globalization;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// The uprobes of dtrace's own provider (BEGIN, END) that a dtrace which died without cleaning up left behind, in the
/// group named for its pid (<c>dt_PID_dtrace</c>): a later dtrace that gets the same pid cannot create its own, and
/// fails to start ("could not enable tracing: Failed to enable probe"). Removed before each start; a group whose pid is
/// a running dtrace's is kept.
/// </summary>
[SupportedOSPlatform("linux")]
internal static partial class DTraceLeftovers
{
    // DTrace for Linux 2.0 writes through debugfs's view of tracefs; both views hold the same events.
    private static readonly string[] s_eventFiles = ["/sys/kernel/debug/tracing/uprobe_events", "/sys/kernel/tracing/uprobe_events"];

    /// <summary>
    /// Removes them, and returns how many events it removed. Never throws: a leftover it cannot remove only risks the
    /// failed start it would have prevented.
    /// </summary>
    public static int Remove()
    {
        var removed = 0;
        try
        {
            if (s_eventFiles.FirstOrDefault(File.Exists) is not { } file)
            {
                return 0;
            }

            foreach (var line in File.ReadAllLines(file))
            {
                if (OwnProviderEvent().Match(line) is { Success: true } match
                    && !IsRunningDTrace(int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture)))
                {
                    removed += RemoveEvent(file, match.Groups[1].Value) ? 1 : 0;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return removed;
    }

    private static bool RemoveEvent(string file, string name)
    {
        try
        {
            // One write per event: the kernel reads each write as a command.
            File.AppendAllText(file, $"-:{name}\n");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool IsRunningDTrace(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim() == "dtrace";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    // p:dt_1234_dtrace/BEGIN /opt/dtrace/lib64/libdtrace.so.2.0.0:0x000000000007a080
    [GeneratedRegex(@"^p:(dt_(\d+)_dtrace/\w+) ")]
    private static partial Regex OwnProviderEvent();
}
