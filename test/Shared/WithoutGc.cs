using System.Runtime;

namespace IoTrace.Tests.Shared;

/// <summary>
/// Runs traced work with no garbage collection in the middle. A collection reads /proc/meminfo (openat, newfstatat,
/// read of 1,024 bytes, close) on the thread that triggered it; the kernel sees that IO in the traced flow, and a
/// Summary trace, which keeps no stack to tell the runtime's IO from the app's, counts it (other strategies leave it
/// out by its stack). Summary tests that count exactly keep the collector out of their traces; the collection that
/// makes room happens before the work starts.
/// </summary>
internal static class WithoutGc
{
    // Far more than any traced block of the tests allocates.
    private const long Budget = 64L << 20;

    public static T Run<T>(Func<T> work)
    {
        var started = GC.TryStartNoGCRegion(Budget);
        try
        {
            return work();
        }
        finally
        {
            if (started && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
            {
                GC.EndNoGCRegion();
            }
        }
    }

    public static async Task<T> RunAsync<T>(Func<Task<T>> work)
    {
        var started = GC.TryStartNoGCRegion(Budget);
        try
        {
            return await work();
        }
        finally
        {
            if (started && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
            {
                GC.EndNoGCRegion();
            }
        }
    }
}
