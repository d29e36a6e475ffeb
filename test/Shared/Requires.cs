using Xunit;

namespace IoTrace.Tests.Shared;

/// <summary>
/// Skips a test whose platform or tool is missing, with the reason. Under CI (CI=true) the machine is set up
/// by .ci/run, so a missing requirement fails instead: CI cannot pass by skipping. Linked into every test project.
/// </summary>
internal static class Requires
{
    public static void Linux() => That(OperatingSystem.IsLinux(), "the in-process backend runs on Linux only");

    public static void Strace() => That(File.Exists("/usr/bin/strace"), "strace is not installed (apt-get install strace)");

    /// <summary>What the eBPF backend needs: root and libbpf 1.x (.ci/run provides both, and builds the kernel program).</summary>
    public static void Ebpf()
    {
        Linux();
        That(Environment.UserName == "root", "the eBPF backend needs root (or CAP_BPF and CAP_PERFMON)");
        That(File.Exists("/usr/lib/x86_64-linux-gnu/libbpf.so.1") || File.Exists("/usr/lib64/libbpf.so.1") || File.Exists("/usr/lib/libbpf.so.1"),
            "libbpf 1.x is not installed (apt-get install libbpf1)");
    }

    /// <summary>What the dtrace backend needs: root and dtrace (.ci/run installs DTrace for Linux from ../shared/dtrace).</summary>
    public static void DTrace()
    {
        Linux();
        That(Environment.UserName == "root", "the dtrace backend needs root");
        // Where the backend looks: IOTRACE_DTRACE, else the PATH, /usr/sbin and /usr/local/sbin.
        var found = Environment.GetEnvironmentVariable("IOTRACE_DTRACE") is { Length: > 0 } named
            ? File.Exists(named)
            : (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Append("/usr/sbin").Append("/usr/local/sbin").Any(directory => File.Exists(Path.Combine(directory, "dtrace")));
        That(found, "dtrace is not installed (bash ../shared/dtrace/build.sh)");
    }

    /// <summary>
    /// dtrace, as root, wherever it runs: DTrace for Linux as <see cref="DTrace"/> requires it, or the system's own
    /// (macOS, FreeBSD, illumos), for the tests of the syscall provider's script that the macOS workflow runs too.
    /// </summary>
    public static void DTraceOnThisPlatform()
    {
        if (OperatingSystem.IsLinux())
        {
            DTrace();
            return;
        }

        That(OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD(), "DTrace's tests run on Linux, macOS and FreeBSD");
        That(Environment.UserName == "root", "dtrace needs root (sudo)");
        That(File.Exists("/usr/sbin/dtrace"), "dtrace is not in /usr/sbin");
    }

    /// <summary>Debian's Chromium, headless, for the tests of the page (.ci/run installs it).</summary>
    public static string Chromium()
    {
        const string path = "/usr/bin/chromium";
        That(File.Exists(path), "Chromium is not installed (apt-get install chromium)");
        return path;
    }

    public static void That(bool condition, string reason)
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
