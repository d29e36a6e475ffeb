using Xunit;

namespace IoTrace.AspNetCore.Tests.TestInfrastructure;

/// <summary>
/// Skips a test whose platform is missing, with the reason. Under CI (CI=true) the machine is set up by .ci/run,
/// so a missing requirement fails instead: CI cannot pass by skipping. (The core tests' Requires, for this project.)
/// </summary>
internal static class Requires
{
    public static void Linux() => That(OperatingSystem.IsLinux(), "the in-process backend runs on Linux only");

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
