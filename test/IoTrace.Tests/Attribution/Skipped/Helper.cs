using System.Diagnostics;
using IoTrace.Attribution;

namespace IoTrace.Tests.Attribution.Skipped;

/// <summary>Stands for library code the user asks the resolver to skip.</summary>
internal static class Helper
{
    public static ResolvedCallSite Capture(CallSiteResolver resolver) => resolver.ResolveFromStack(new StackTrace(0, fNeedFileInfo: true));
}
