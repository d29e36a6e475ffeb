using System.Diagnostics;
using Xunit;

namespace IoTrace.DTrace.Tests.TestSupport;

/// <summary>Compiles a D script with this machine's dtrace, enabling nothing (<c>-e</c>), and fails with dtrace's errors.</summary>
internal static class DTraceCompiler
{
    /// <param name="script">The script's text.</param>
    /// <param name="allowMissingProbes">With <c>-Z</c>: probe descriptions that match nothing here (another system's names) are allowed.</param>
    public static async Task AssertCompilesAsync(string script, bool allowMissingProbes = false)
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Path.GetTempPath(), $"iotrace-script-test-{Guid.NewGuid():N}.d");
        await File.WriteAllTextAsync(path, script, ct);
        try
        {
            string[] arguments = allowMissingProbes ? ["-Z", "-e", "-s", path] : ["-e", "-s", path];
            using var dtrace = Process.Start(new ProcessStartInfo("dtrace", arguments) { RedirectStandardError = true })!;
            var errors = await dtrace.StandardError.ReadToEndAsync(ct);
            await dtrace.WaitForExitAsync(ct);

            Assert.True(dtrace.ExitCode == 0, errors);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
