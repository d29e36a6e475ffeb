using System.Diagnostics;
using System.Runtime.InteropServices;

namespace IoTrace.DTrace.Tests.TestSupport;

/// <summary>Sends a process SIGTERM, which <see cref="Process.Kill()"/> cannot: it only sends SIGKILL.</summary>
internal static partial class Signals
{
    /// <summary>SIGTERM's number on Linux, macOS, FreeBSD and illumos alike.</summary>
    private const int SIGTERM = 15;

    public static void Terminate(Process process)
    {
        if (Kill(process.Id, SIGTERM) != 0 && !process.HasExited)
        {
            throw new InvalidOperationException($"kill({process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
