using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// The few functions of the system's libbpf (<c>libbpf.so.1</c>, or the file <c>IOTRACE_LIBBPF</c> names) the backend
/// calls, bound once by name: a missing library or function becomes a startup reason naming the package, not an
/// exception at the first call. libbpf's
/// messages (its print callback takes a <c>va_list</c>, formatted here with libc's <c>vsnprintf</c>) are kept, the
/// latest warnings first in a failure's reason.
/// </summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class Libbpf
{
    public const string LibraryName = "libbpf.so.1";

    public const string InstallHint =
        "install libbpf 1.0 or later: apt-get install libbpf1 (Debian 12, Ubuntu 23.04 and later), dnf install libbpf (Fedora, RHEL 9), pacman -S libbpf (Arch), apk add libbpf (Alpine)";

    private static readonly Lock s_lock = new();
    private static readonly StringBuilder s_warnings = new();
    private static readonly Dictionary<string, string?> s_unavailable = new(StringComparer.Ordinal);
    private static bool s_bound;

    private static delegate* unmanaged<void*, nuint, void*, nint> s_objectOpenMem;
    private static delegate* unmanaged<nint, byte*, nint> s_objectFindProgram;
    private static delegate* unmanaged<nint, byte*, nint> s_objectFindMap;
    private static delegate* unmanaged<nint, int> s_objectLoad;
    private static delegate* unmanaged<nint, void> s_objectClose;
    private static delegate* unmanaged<nint, nint> s_programAttach;
    private static delegate* unmanaged<nint, int> s_programFd;
    private static delegate* unmanaged<int, void*, uint*, int> s_objGetInfoByFd;
    private static delegate* unmanaged<nint, int> s_linkDestroy;
    private static delegate* unmanaged<nint, uint, int> s_mapSetMaxEntries;
    private static delegate* unmanaged<nint, nuint*, void*> s_mapInitialValue;
    private static delegate* unmanaged<nint, int> s_mapFd;
    private static delegate* unmanaged<int, void*, void*, ulong, int> s_mapUpdate;
    private static delegate* unmanaged<int, void*, int> s_mapDelete;
    private static delegate* unmanaged<int, void*, void*, void*, void*, uint*, void*, int> s_mapLookupAndDeleteBatch;

    /// <summary>Binds libbpf's functions once per library file; false, with the reason (the package to install), where it cannot.</summary>
    public static bool TryBind(out string reason)
    {
        var path = Environment.GetEnvironmentVariable("IOTRACE_LIBBPF") is { Length: > 0 } configured ? configured : LibraryName;
        lock (s_lock)
        {
            if (!s_unavailable.TryGetValue(path, out var unavailable))
            {
                // Functions bound once stay bound (every libbpf 1.x has them); another file is checked for its own reason.
                unavailable = Bind(path, rebind: !s_bound);
                s_bound |= unavailable is null;
                s_unavailable[path] = unavailable;
            }

            reason = unavailable ?? string.Empty;
            return unavailable is null;
        }
    }

    private static string? Bind(string path, bool rebind)
    {
        if (!NativeLibrary.TryLoad(path, out var library))
        {
            return path == LibraryName
                ? $"{LibraryName} is not installed ({InstallHint})"
                : $"{path} (IOTRACE_LIBBPF) could not be loaded ({InstallHint})";
        }

        if (!rebind)
        {
            return null;
        }

        var missing = new List<string>();
        nint Export(string name)
        {
            if (NativeLibrary.TryGetExport(library, name, out var address))
            {
                return address;
            }

            missing.Add(name);
            return 0;
        }

        var major = Export("libbpf_major_version");
        var setPrint = Export("libbpf_set_print");
        s_objectOpenMem = (delegate* unmanaged<void*, nuint, void*, nint>)Export("bpf_object__open_mem");
        s_objectFindProgram = (delegate* unmanaged<nint, byte*, nint>)Export("bpf_object__find_program_by_name");
        s_objectFindMap = (delegate* unmanaged<nint, byte*, nint>)Export("bpf_object__find_map_by_name");
        s_objectLoad = (delegate* unmanaged<nint, int>)Export("bpf_object__load");
        s_objectClose = (delegate* unmanaged<nint, void>)Export("bpf_object__close");
        s_programAttach = (delegate* unmanaged<nint, nint>)Export("bpf_program__attach");
        s_programFd = (delegate* unmanaged<nint, int>)Export("bpf_program__fd");
        s_objGetInfoByFd = (delegate* unmanaged<int, void*, uint*, int>)Export("bpf_obj_get_info_by_fd");
        s_linkDestroy = (delegate* unmanaged<nint, int>)Export("bpf_link__destroy");
        s_mapSetMaxEntries = (delegate* unmanaged<nint, uint, int>)Export("bpf_map__set_max_entries");
        s_mapInitialValue = (delegate* unmanaged<nint, nuint*, void*>)Export("bpf_map__initial_value");
        s_mapFd = (delegate* unmanaged<nint, int>)Export("bpf_map__fd");
        s_mapUpdate = (delegate* unmanaged<int, void*, void*, ulong, int>)Export("bpf_map_update_elem");
        s_mapDelete = (delegate* unmanaged<int, void*, int>)Export("bpf_map_delete_elem");
        s_mapLookupAndDeleteBatch = (delegate* unmanaged<int, void*, void*, void*, void*, uint*, void*, int>)Export("bpf_map_lookup_and_delete_batch");
        if (missing.Count > 0)
        {
            return $"the installed {path} is too old: it lacks {string.Join(", ", missing)} ({InstallHint})";
        }

        var version = ((delegate* unmanaged<uint>)major)();
        if (version < 1)
        {
            return $"the installed libbpf is {version}.x, older than 1.0 ({InstallHint})";
        }

        _ = ((delegate* unmanaged<delegate* unmanaged<int, byte*, nint, int>, nint>)setPrint)(&Print);
        return null;
    }

    /// <summary>Opens an object from its ELF bytes; throws with libbpf's reason.</summary>
    public static nint OpenObject(ReadOnlySpan<byte> elf)
    {
        nint obj;
        fixed (byte* bytes = elf)
        {
            obj = s_objectOpenMem(bytes, (nuint)elf.Length, null);
        }

        return obj != 0 ? obj : throw Failure("opening the BPF object", -Marshal.GetLastSystemError());
    }

    public static nint FindProgram(nint obj, string name) => Find(s_objectFindProgram, obj, name, "program");

    public static nint FindMap(nint obj, string name) => Find(s_objectFindMap, obj, name, "map");

    public static void SetMaxEntries(nint map, int entries) => Check(s_mapSetMaxEntries(map, (uint)entries), "sizing a map");

    /// <summary>A global data section's memory: the object's copy before loading, the kernel map's mmap after.</summary>
    public static byte* InitialValue(nint map, out int size)
    {
        nuint length = 0;
        var data = (byte*)s_mapInitialValue(map, &length);
        size = (int)length;
        return data != null ? data : throw Failure("mapping a global data section", -Marshal.GetLastSystemError());
    }

    public static void Load(nint obj)
    {
        lock (s_warnings)
        {
            s_warnings.Clear();
        }

        Check(s_objectLoad(obj), "loading the BPF programs");
    }

    public static nint Attach(nint program)
    {
        var link = s_programAttach(program);
        return link != 0 ? link : throw Failure("attaching a BPF program", -Marshal.GetLastSystemError());
    }

    public static void Destroy(nint link) => _ = s_linkDestroy(link);

    public static void Close(nint obj) => s_objectClose(obj);

    public static int MapFd(nint map) => s_mapFd(map);

    public static int ProgramFd(nint program) => s_programFd(program);

    /// <summary>
    /// How many times the kernel skipped a program because it was already running on that CPU (its
    /// <c>recursion_misses</c>, at byte 208 of <c>struct bpf_prog_info</c>); 0 where the kernel does not count them.
    /// </summary>
    public static long RecursionMisses(int programFd)
    {
        const int Size = 232;
        const int MissesOffset = 208;
        var info = stackalloc byte[Size];
        new Span<byte>(info, Size).Clear();
        uint length = Size;
        return s_objGetInfoByFd(programFd, info, &length) == 0 && length >= MissesOffset + 8 ? *(long*)(info + MissesOffset) : 0;
    }

    /// <summary>Sets a map entry; false where the kernel refused it (a full map).</summary>
    public static bool Update(int fd, void* key, void* value, ulong flags = 0) => s_mapUpdate(fd, key, value, flags) == 0;

    public static void Delete(int fd, void* key) => _ = s_mapDelete(fd, key);

    /// <summary>One batch of entries, removed as they are read; 0 or a negative errno (ENOENT: the map's end).</summary>
    public static int LookupAndDeleteBatch(int fd, void* inBatch, void* outBatch, void* keys, void* values, ref uint count)
    {
        fixed (uint* counted = &count)
        {
            var result = s_mapLookupAndDeleteBatch(fd, inBatch, outBatch, keys, values, counted, null);
            return result < 0 ? -Marshal.GetLastSystemError() : result;
        }
    }

    private static nint Find(delegate* unmanaged<nint, byte*, nint> find, nint obj, string name, string kind)
    {
        var utf8 = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* bytes = utf8)
        {
            var found = find(obj, bytes);
            return found != 0 ? found : throw new InvalidOperationException($"the BPF object has no {kind} {name}");
        }
    }

    private static void Check(int result, string what)
    {
        if (result < 0)
        {
            throw Failure(what, result);
        }
    }

    private static InvalidOperationException Failure(string what, int negativeErrno)
    {
        var message = $"{what} failed ({Marshal.GetPInvokeErrorMessage(-negativeErrno)})";
        lock (s_warnings)
        {
            var warnings = s_warnings.ToString().Trim();
            return new InvalidOperationException(warnings.Length == 0 ? message : $"{message}: {warnings.ReplaceLineEndings(" | ")}");
        }
    }

    /// <summary>libbpf's warnings, kept (the last 2,000 characters) for the reason of a failure; its info and debug messages are dropped.</summary>
    [UnmanagedCallersOnly]
    private static int Print(int level, byte* format, nint args)
    {
        const int Warning = 0;
        if (level != Warning)
        {
            return 0;
        }

        var buffer = stackalloc byte[1024];
        var length = Math.Clamp(FormatV(buffer, 1024, format, args), 0, 1023);
        var text = Encoding.UTF8.GetString(buffer, length);
        lock (s_warnings)
        {
            s_warnings.Append(text);
            if (s_warnings.Length > 2000)
            {
                s_warnings.Remove(0, s_warnings.Length - 2000);
            }
        }

        return 0;
    }

    [LibraryImport("libc", EntryPoint = "vsnprintf")]
    private static partial int FormatV(byte* buffer, nuint size, byte* format, nint args);
}
