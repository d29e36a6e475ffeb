using System.Runtime.InteropServices;

namespace IoTrace.Tests.Shared;

/// <summary>libc called straight from managed code, bypassing the runtime's libSystem.Native (what the in-process backend hooks).</summary>
internal static class DirectLibc
{
    // DllImport, not LibraryImport: a generated wrapper would be a frame of the test assembly, between the caller's line and libc.
#pragma warning disable SYSLIB1054, CA5392
    [DllImport("libc", EntryPoint = "read")]
    public static extern unsafe nint Read(nint fd, byte* buffer, nint count);

    [DllImport("libc", EntryPoint = "pread64")]
    public static extern unsafe nint Pread(nint fd, byte* buffer, nint count, long offset);
#pragma warning restore SYSLIB1054, CA5392
}
