using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IoTrace.Platform.Linux;

/// <summary>
/// The exports of libIoTrace.Native.so, resolved once as function pointers for the hot path: the in-process backend's
/// GOT rebinding, a kernel backend's watch on library loads, and the cheap call-path key every resolver uses.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class NativeShim
{
    public const string LibraryName = "libIoTrace.Native.so";

    private NativeShim(nint handle)
    {
        Install = (delegate* unmanaged<byte**, int, void*, byte*, int>)NativeLibrary.GetExport(handle, "iotrace_install");
        Uninstall = (delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "iotrace_uninstall");
        ActiveCounter = ((delegate* unmanaged<int*>)NativeLibrary.GetExport(handle, "iotrace_active_counter"))();
        SlotCount = (delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "iotrace_slot_count");
        SlotAt = (delegate* unmanaged<int, Slot*>)NativeLibrary.GetExport(handle, "iotrace_slot_at");
        LibraryPath = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(handle, "iotrace_library_path");
        CallSiteKey = (delegate* unmanaged[SuppressGCTransition]<int*, ulong>)NativeLibrary.GetExport(handle, "iotrace_callsite_key");
        ThreadCpuNanoseconds = (delegate* unmanaged[SuppressGCTransition]<long>)NativeLibrary.GetExport(handle, "iotrace_thread_cpu_ns");
        WatchLoads = (delegate* unmanaged<delegate* unmanaged<byte*, void>, byte*, int>)NativeLibrary.GetExport(handle, "iotrace_watch_loads");
    }

    public delegate* unmanaged<byte**, int, void*, byte*, int> Install { get; }

    public delegate* unmanaged<int> Uninstall { get; }

    /// <summary>The number of active traces; trampolines forward to managed code only while it is above zero.</summary>
    public int* ActiveCounter { get; }

    public delegate* unmanaged<int> SlotCount { get; }

    public delegate* unmanaged<int, Slot*> SlotAt { get; }

    public delegate* unmanaged<int, byte*> LibraryPath { get; }

    public delegate* unmanaged[SuppressGCTransition]<int*, ulong> CallSiteKey { get; }

    public delegate* unmanaged[SuppressGCTransition]<long> ThreadCpuNanoseconds { get; }

    /// <summary>
    /// Starts (a callback and a folder) or ends (null) a kernel backend's watch on libraries loaded under that folder:
    /// the callback runs on the loading thread before its dlopen returns. Returns the dlopen slots hooked.
    /// </summary>
    public delegate* unmanaged<delegate* unmanaged<byte*, void>, byte*, int> WatchLoads { get; }

    private static readonly Lazy<(NativeShim? Shim, string Reason)> s_shared = new(static () => TryLoad(LibraryName, out var shim, out var reason) ? (shim, string.Empty) : (null, reason));

    /// <summary>The process's shim, loaded once; null, with the reason, where it cannot be loaded.</summary>
    public static NativeShim? Shared(out string reason)
    {
        (var shim, reason) = s_shared.Value;
        return shim;
    }

    internal static bool TryLoad(string libraryName, out NativeShim? shim, out string reason)
    {
        shim = null;
        if (!NativeLibrary.TryLoad(libraryName, typeof(NativeShim).Assembly, DllImportSearchPath.AssemblyDirectory | DllImportSearchPath.ApplicationDirectory, out var handle)
            && !NativeLibrary.TryLoad(Path.Combine(AppContext.BaseDirectory, libraryName), out handle))
        {
            reason = $"{libraryName} was not found next to the application (it is built on Linux with a C compiler)";
            return false;
        }

        try
        {
            shim = new NativeShim(handle);
            reason = string.Empty;
            return true;
        }
        catch (EntryPointNotFoundException e)
        {
            reason = $"{libraryName} is from another version of IoTrace: {e.Message}";
            return false;
        }
    }

    /// <summary>Mirrors <c>iotrace_slot</c> in iotrace_native.c.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Slot
    {
        public nint Original;
        public int Symbol;
        public int Library;
        public nint* Got;
        public int Patched;
        public int FramePointers;

        /// <summary>What the GOT held before: <see cref="Original"/>, or syscall(2) for a slot serving one system call made through it.</summary>
        public nint Restore;

        /// <summary>The system call a slot on syscall(2) serves; 0 for a slot on the function itself.</summary>
        public int SyscallNumber;
    }
}
