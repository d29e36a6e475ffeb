using Xunit;

namespace IoTrace.Testing;

/// <summary>
/// Skips a test whose platform or tool is missing, with the reason. Under CI (CI=true) the machine is set up
/// by .ci/run, so a missing requirement fails instead: CI cannot pass by skipping. Linked into every test project.
/// </summary>
internal static class Requires
{
    public static void Linux() => That(OperatingSystem.IsLinux(), "the in-process backend runs on Linux only");

    public static void Strace() => That(File.Exists("/usr/bin/strace"), "strace is not installed (apt-get install strace)");

    private static void That(bool condition, string reason)
    {
        if (condition)
        {
            return;
        }

        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail($"Required on CI: {reason}.");
        }

        Assert.Skip(reason);
    }
}
