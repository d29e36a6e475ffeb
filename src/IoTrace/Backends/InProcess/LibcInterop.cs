using System.Runtime.InteropServices;

namespace IoTrace.Backends.InProcess;

/// <summary>libc calls the tracer makes for itself; they bypass libSystem.Native, so they are never hooked.</summary>
internal static unsafe partial class LibcInterop
{
    public const int EAGAIN = 11;

    [LibraryImport("libc", EntryPoint = "readlink")]
    public static partial nint ReadLink(byte* path, byte* buffer, nint size);

    [LibraryImport("libc", EntryPoint = "getpeername")]
    public static partial int GetPeerName(int fd, byte* address, int* length);
}
