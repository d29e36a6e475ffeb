using System.Runtime.Versioning;

namespace IoTrace.Platform.Linux;

/// <summary>
/// The start of glibc's <c>DIR</c> (<c>struct __dirstream</c>, sysdeps/unix/sysv/linux/dirstream.h, the same since
/// 2.x): the fd and a lock, then the buffer's allocation, the bytes its last getdents64 read (size) and how far readdir
/// has returned them (offset). It says when readdir will call getdents64, and what that call read, which happen inside
/// libc where no hook reaches. Trusted once a fresh stream looked as expected (<see cref="Check"/>).
/// </summary>
[SupportedOSPlatform("linux")]
internal static unsafe class DirStream
{
    private const int AllocationOffset = 8;
    private const int SizeOffset = 16;
    private const int ReadOffset = 24;

    // 0: not checked yet; 1: the layout is glibc's; -1: it is not (another libc): readdir's calls are not counted.
    private static int s_layout;

    /// <summary>Whether the layout was checked and found to be glibc's.</summary>
    public static bool IsKnown => Volatile.Read(ref s_layout) == 1;

    /// <summary>
    /// Checks the layout on a stream opendir just returned: its fd where dirfd says, nothing read yet, and a buffer
    /// of a plausible size. Returns false if it is not glibc's (from then on, for the process).
    /// </summary>
    public static bool Check(nint dir)
    {
        if (Volatile.Read(ref s_layout) == 0)
        {
            var allocation = *(nuint*)(dir + AllocationOffset);
            var glibc = *(int*)dir == LibcInterop.DirFd(dir)
                && *(nuint*)(dir + SizeOffset) == 0
                && *(nuint*)(dir + ReadOffset) == 0
                && allocation is >= 4096 and <= 1 << 20;
            Volatile.Write(ref s_layout, glibc ? 1 : -1);
        }

        return IsKnown;
    }

    /// <summary>Whether readdir on <paramref name="dir"/> will call getdents64 first: it has returned every entry the last call read.</summary>
    public static bool WillRead(nint dir) => *(nuint*)(dir + ReadOffset) >= *(nuint*)(dir + SizeOffset);

    /// <summary>The bytes the last getdents64 read into the stream's buffer.</summary>
    public static long LastRead(nint dir) => (long)*(nuint*)(dir + SizeOffset);
}
