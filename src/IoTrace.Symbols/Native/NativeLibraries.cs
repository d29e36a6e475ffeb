using IoTrace.Platform.Linux;

namespace IoTrace.Symbols.Native;

/// <summary>Which native library an image's path names, on the systems the kernel-side backends run on.</summary>
internal static class NativeLibraries
{
    /// <summary>The library whose wrappers make the system calls: glibc on Linux; ntdll, kernelbase and kernel32 on Windows.</summary>
    public static bool IsSystemCallLibrary(string path) =>
        LinuxLibraries.IsLibc(path) || IsWindowsLibrary(path, "ntdll.dll") || IsWindowsLibrary(path, "kernelbase.dll") || IsWindowsLibrary(path, "kernel32.dll");

    /// <summary>The runtime's own native code: the VM and the JIT (<c>libcoreclr.so</c>, <c>coreclr.dll</c>, ...).</summary>
    public static bool IsRuntime(string path) =>
        LinuxLibraries.IsRuntime(path) || IsWindowsLibrary(path, "coreclr.dll") || IsWindowsLibrary(path, "clrjit.dll");

    // By file name, whatever the separator and case (Windows paths are case-insensitive).
    private static bool IsWindowsLibrary(string path, string name) =>
        path.EndsWith(name, StringComparison.OrdinalIgnoreCase) && (path.Length == name.Length || path[^(name.Length + 1)] is '\\' or '/');
}
