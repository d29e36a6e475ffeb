using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IoTrace.Tracing;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf.Attribution;

/// <summary>
/// Learns a native library of the app's folder as it loads: the shim's dlopen hook calls back on the loading thread
/// before dlopen returns, so the library's unwind rules are in the kernel before its first call, and the calls of the
/// traced request that loads it (SQLite's, at a connection's first open) have their lines; without it they would wait
/// for the next flush's lesson. The lesson (about 0.3 s for e_sqlite3 in a fresh process, once) then runs in that
/// request's thread, hidden from the kernel's trace: its reads of the library are IoTrace's, not the request's. A load
/// outside a trace that keeps lines (at startup, in an untraced request) is left to the flush thread, in the background.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class NativeLibraryLoads : IDisposable
{
    private static readonly Lock s_lock = new();
    private static NativeLibraryLoads? s_current;

    private readonly NativeShim _shim;
    private readonly Action _learn;
    private readonly Action<Exception> _reportFailure;

    private NativeLibraryLoads(NativeShim shim, Action learn, Action<Exception> reportFailure)
    {
        _shim = shim;
        _learn = learn;
        _reportFailure = reportFailure;
    }

    /// <summary>
    /// Calls <paramref name="learn"/> on each load of a library under <paramref name="folder"/>, replacing any earlier
    /// watch (a re-attach). Null when the shim is missing or hooks no loader: libraries are then learned at the next
    /// flush.
    /// </summary>
    public static NativeLibraryLoads? TryStart(string folder, Action learn, Action<Exception> reportFailure, out string reason)
    {
        if (NativeShim.Shared(out reason) is not { } shim)
        {
            return null;
        }

        var watch = new NativeLibraryLoads(shim, learn, reportFailure);
        var folderUtf8 = Marshal.StringToCoTaskMemUTF8(folder);
        try
        {
            lock (s_lock)
            {
                Volatile.Write(ref s_current, watch);
                if (shim.WatchLoads(&OnLoaded, (byte*)folderUtf8) > 0)
                {
                    return watch;
                }

                Volatile.Write(ref s_current, null);
                _ = shim.WatchLoads(null, null);
            }
        }
        finally
        {
            Marshal.FreeCoTaskMem(folderUtf8);
        }

        reason = "the runtime's loader has no dlopen slot to hook";
        return null;
    }

    public void Dispose()
    {
        lock (s_lock)
        {
            if (s_current == this)
            {
                Volatile.Write(ref s_current, null);
                _ = _shim.WatchLoads(null, null);
            }
        }
    }

    [UnmanagedCallersOnly]
    private static void OnLoaded(byte* path)
    {
        // Nothing may escape into the loader's native frames: an exception here would end the process.
        try
        {
            if (ThreadTraces.Current is { IsActive: true, KeepsContext: true })
            {
                Volatile.Read(ref s_current)?.Learn();
            }
        }
        catch (Exception e)
        {
            Volatile.Read(ref s_current)?.Report(e);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Learn()
    {
        using var busy = TracerThread.Enter();
        using var hidden = ThreadTraces.Hide();
        _learn();
    }

    private void Report(Exception e)
    {
        try
        {
            _reportFailure(e);
        }
        catch (Exception)
        {
            // Logging failed too: the load goes on.
        }
    }
}
