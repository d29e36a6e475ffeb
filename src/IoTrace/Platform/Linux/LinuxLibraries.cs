namespace IoTrace.Platform.Linux;

/// <summary>Which library of the process a mapped file's path names.</summary>
internal static class LinuxLibraries
{
    /// <summary>glibc's C library: <c>libc.so.6</c>, or <c>libc-2.x.so</c> on older systems.</summary>
    public static bool IsLibc(string path)
    {
        var name = Path.GetFileName(path);
        return name == "libc.so.6" || (name.StartsWith("libc-", StringComparison.Ordinal) && name.EndsWith(".so", StringComparison.Ordinal));
    }

    /// <summary>The runtime's own native code: the VM (<c>libcoreclr.so</c>) and the JIT (<c>libclrjit.so</c>).</summary>
    public static bool IsRuntime(string path) =>
        path.EndsWith("/libcoreclr.so", StringComparison.Ordinal) || path.EndsWith("/libclrjit.so", StringComparison.Ordinal);
}
