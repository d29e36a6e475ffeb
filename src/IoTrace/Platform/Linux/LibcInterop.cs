using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IoTrace.Platform.Linux;

/// <summary>libc calls the tracer makes for itself; they bypass libSystem.Native, so the in-process hooks never see them.</summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class LibcInterop
{
    public const int EAGAIN = 11;
    public const int EINPROGRESS = 115;
    public const int EBADF = 9;
    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_SHARED = 0x01;
    public const int MAP_PRIVATE = 0x02;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_NORESERVE = 0x4000;

    /// <summary>setpriority's "which" for one process or, given a thread id, one thread.</summary>
    public const int PRIO_PROCESS = 0;

    public const int SIGTERM = 15;

    public const int SCHED_OTHER = 0;

    /// <summary>Policy flag: tasks this one creates (threads included) start with a negative nice reset to 0.</summary>
    public const int SCHED_RESET_ON_FORK = 0x40000000;

    /// <summary>x86_64 system call numbers glibc has no wrapper for.</summary>
    public const long SYS_bpf = 321;

    [ThreadStatic]
    private static int t_tid;

    /// <summary>The kernel's id of the current thread; cached, gettid costs a system call.</summary>
    public static int CurrentThreadId => t_tid != 0 ? t_tid : t_tid = GetTid();

    [LibraryImport("libc", EntryPoint = "readlink")]
    public static partial nint ReadLink(byte* path, byte* buffer, nint size);

    [LibraryImport("libc", EntryPoint = "dirfd")]
    public static partial int DirFd(nint dir);

    [LibraryImport("libc", EntryPoint = "opendir", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint OpenDir(string path);

    /// <summary>The next entry, a <c>struct dirent64</c>; 0 at the end.</summary>
    [LibraryImport("libc", EntryPoint = "readdir64")]
    public static partial nint ReadDir64(nint dir);

    [LibraryImport("libc", EntryPoint = "closedir")]
    public static partial int CloseDir(nint dir);

    [LibraryImport("libc", EntryPoint = "getpeername")]
    public static partial int GetPeerName(int fd, byte* address, int* length);

    [LibraryImport("libc", EntryPoint = "getsockopt")]
    public static partial int GetSockOpt(int fd, int level, int name, void* value, int* length);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "mmap")]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    public static partial int SetPriority(int which, uint who, int niceness);

    /// <param name="pid">A process or, given a thread id, one thread.</param>
    /// <param name="policy">The policy, with its flags.</param>
    /// <param name="priority">struct sched_param's only field, sched_priority: 0 for SCHED_OTHER.</param>
    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    public static partial int SchedSetScheduler(int pid, int policy, in int priority);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    public static partial long Syscall(long number, long arg1, nint arg2, long arg3);

    [LibraryImport("libc", EntryPoint = "close")]
    public static partial int Close(int fd);

    /// <param name="pid">A thread id; 0 for the calling thread.</param>
    /// <param name="size">Bytes of <paramref name="mask"/>.</param>
    /// <param name="mask">One bit per CPU.</param>
    [LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    public static partial int SchedGetAffinity(int pid, nuint size, byte* mask);

    /// <inheritdoc cref="SchedGetAffinity"/>
    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    public static partial int SchedSetAffinity(int pid, nuint size, byte* mask);

    [LibraryImport("libc", EntryPoint = "prctl")]
    public static partial int Prctl(int option, nint arg2, nint arg3, nint arg4, nint arg5);

    [LibraryImport("libc", EntryPoint = "kill")]
    public static partial int Kill(int pid, int signal);
}
