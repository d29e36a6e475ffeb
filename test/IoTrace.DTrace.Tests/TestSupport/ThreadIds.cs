using System.Runtime.InteropServices;
using IoTrace.Platform.Linux;

namespace IoTrace.DTrace.Tests.TestSupport;

/// <summary>The current thread's id as D's <c>tid</c> gives it: Linux's gettid, macOS's pthread_threadid_np.</summary>
internal static partial class ThreadIds
{
    public static long Current()
    {
        if (OperatingSystem.IsLinux())
        {
            return LibcInterop.CurrentThreadId;
        }

        if (OperatingSystem.IsMacOS() && PthreadThreadIdNp(0, out var id) == 0)
        {
            return (long)id;
        }

        throw new PlatformNotSupportedException("The tests know the thread ids of Linux and macOS only.");
    }

    [LibraryImport("libc", EntryPoint = "pthread_threadid_np")]
    private static partial int PthreadThreadIdNp(nint thread, out ulong id);
}
