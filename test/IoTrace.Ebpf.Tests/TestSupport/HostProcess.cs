using System.Diagnostics;
using System.Runtime.CompilerServices;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests.TestSupport;

/// <summary>Runs IoTrace.Ebpf.Tests.Host in a process of its own, for what only a fresh process shows (a first load, a first call).</summary>
internal static class HostProcess
{
    /// <summary>Runs the host with <paramref name="arguments"/>; returns the report's rows (probe, file, line, calls, bytes, target) and its last line.</summary>
    public static async Task<(List<string[]> Rows, string Done, int ExitCode)> TraceAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "IoTrace.Ebpf.Tests.Host.dll"));
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var host = Process.Start(info)!;
        var output = await host.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await host.WaitForExitAsync(TestContext.Current.CancellationToken);
        var (rows, done) = Report(output);
        return (rows, done, host.ExitCode);
    }

    /// <summary>The line of the host's Program.cs that holds <paramref name="text"/>.</summary>
    public static int LineOf(string text) =>
        SourceLines.Of(text, Path.Combine(Path.GetDirectoryName(ThisFile())!, "..", "..", "IoTrace.Ebpf.Tests.Host", "Program.cs"));

    private static string ThisFile([CallerFilePath] string file = "") => file;

    /// <summary>What the host printed: a row per aggregate, tab-separated, then its last line.</summary>
    private static (List<string[]> Rows, string Done) Report(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return ([.. lines[..^1].Select(l => l.Split('\t'))], lines.Length > 0 ? lines[^1] : string.Empty);
    }
}
