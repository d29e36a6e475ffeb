namespace IoTrace.Attribution;

/// <summary>
/// A resolved call path: the application line, and whether a framework async method (File.ReadAllBytesAsync,
/// say) runs between that line and the IO call. Only then is the line safe to hand down to the rest of that
/// async method, whose later IO runs on thread-pool threads with no application frame on the stack.
/// </summary>
internal readonly record struct ResolvedCallSite(SourceLocation Site, bool InAsyncCallee);
