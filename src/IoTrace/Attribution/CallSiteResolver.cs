using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Runtime.CompilerServices;
using IoTrace.Platform.Linux;

namespace IoTrace.Attribution;

/// <summary>
/// Finds the first application frame on the stack and caches the answer on a cheap key of the call path,
/// because a <see cref="StackTrace"/> with file information costs about 12 us.
/// </summary>
internal sealed class CallSiteResolver
{
    // Tiered JIT gives one call site several keys over time; past this the cache starts over.
    private const int MaxCachedKeys = 1 << 16;

    private static readonly string? s_sharedFrameworkRoot = FindSharedFrameworkRoot();
    private static readonly ConcurrentDictionary<Assembly, bool> s_notTheApplications = new();

    private static int s_lastId;
    private static readonly Dictionary<string, CallSiteResolver> s_byPrefixes = new(StringComparer.Ordinal);
    private static ResolverChoice? s_lastChoice;

    private readonly string[] _skippedPrefixes;
    private readonly ConcurrentDictionary<ulong, ResolvedCallSite> _byKey = new();
    private readonly ConcurrentDictionary<(string? File, int? Line, string? Method), SourceLocation> _interned = new();

    public CallSiteResolver(IEnumerable<string> skippedPrefixes)
    {
        _skippedPrefixes = [.. skippedPrefixes.Where(p => !string.IsNullOrEmpty(p))];
    }

    /// <summary>
    /// The process's resolver for a trace's options: one per set of skipped namespaces, so its cache serves every trace
    /// with the same rules (a middleware starts them all with one options instance).
    /// </summary>
    public static CallSiteResolver For(IoTraceStartOptions options)
    {
        if (s_lastChoice is { } last && ReferenceEquals(last.Options, options) && SamePrefixes(last.Prefixes, options.SkippedNamespaces))
        {
            return last.Resolver;
        }

        var prefixes = options.SkippedNamespaces.ToArray();
        var key = string.Join('\n', prefixes);
        CallSiteResolver resolver;
        lock (s_byPrefixes)
        {
            if (!s_byPrefixes.TryGetValue(key, out resolver!))
            {
                resolver = new CallSiteResolver(prefixes);
                s_byPrefixes[key] = resolver;
            }
        }

        s_lastChoice = new ResolverChoice(options, prefixes, resolver);
        return resolver;
    }

    /// <summary>Call paths cached by every resolver of the process.</summary>
    public static int CachedKeysInAll()
    {
        lock (s_byPrefixes)
        {
            return s_byPrefixes.Values.Sum(r => r.CachedKeys);
        }
    }

    private static bool SamePrefixes(string[] known, IList<string> current)
    {
        if (known.Length != current.Count)
        {
            return false;
        }

        for (var i = 0; i < known.Length; i++)
        {
            if (!string.Equals(known[i], current[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private sealed record ResolverChoice(IoTraceStartOptions Options, string[] Prefixes, CallSiteResolver Resolver);

    /// <summary>Process-unique, from 1: lets a kernel backend keep what it learned about stacks per set of rules.</summary>
    public int Id { get; } = Interlocked.Increment(ref s_lastId);

    public int CachedKeys => _byKey.Count;

    /// <summary>Resolves the call path identified by <paramref name="key"/>, walking the stack only on a miss.</summary>
    public ResolvedCallSite Resolve(ulong key)
    {
        if (_byKey.TryGetValue(key, out var site))
        {
            return site;
        }

        return Add(key, ResolveFromStack(new StackTrace(1, fNeedFileInfo: true)));
    }

    // Fewer frames than this means the walk broke early and the key cannot tell call paths apart.
    private const int MinimumKeyFrames = 4;

    /// <summary>
    /// Resolves the managed caller's call path: by the native shim's frame-pointer key where it is loaded (tens of
    /// nanoseconds), else by a managed walk.
    /// </summary>
    public unsafe ResolvedCallSite ResolveHere()
    {
        int frames;
        if (OperatingSystem.IsLinux() && NativeShim.Shared(out _) is { } shim && shim.CallSiteKey(&frames) is var key && frames >= MinimumKeyFrames)
        {
            return Resolve(key);
        }

        return ResolveManaged();
    }

    /// <summary>Resolves through a managed stack walk keyed by method and offset, for callers without frame pointers.</summary>
    public ResolvedCallSite ResolveManaged()
    {
        var trace = new StackTrace(1, fNeedFileInfo: false);

        // FNV-1a over each frame's method (by identity: the runtime caches one MethodBase per method, and a
        // DynamicMethod has no handle) and native offset. The top bit keeps these apart from frame-pointer keys.
        var key = 14695981039346656037UL;
        foreach (var frame in trace.GetFrames())
        {
            var method = frame.GetMethod();
            key = (key ^ (uint)(method is null ? 0 : RuntimeHelpers.GetHashCode(method))) * 1099511628211UL;
            key = (key ^ (uint)frame.GetNativeOffset()) * 1099511628211UL;
        }

        key |= 1UL << 63;
        if (_byKey.TryGetValue(key, out var site))
        {
            return site;
        }

        return Add(key, ResolveFromStack(new StackTrace(1, fNeedFileInfo: true)));
    }

    private ResolvedCallSite Add(ulong key, ResolvedCallSite site)
    {
        if (_byKey.Count >= MaxCachedKeys)
        {
            _byKey.Clear();
        }

        _byKey.TryAdd(key, site);
        return site;
    }

    /// <summary>
    /// The first frame of the application's own code: not the framework, not a NuGet package's library, not IoTrace,
    /// not a skipped namespace. Frames with source lines win over frames without (deterministic <c>/_/</c> paths count
    /// as none); without any, the first candidate's method name, or <see cref="SourceLocation.NameResolution"/> for Dns's
    /// own call (an asynchronous resolution's getaddrinfo on the thread pool). Also tells whether a framework or library
    /// async method runs between the call and that frame: its continuations then inherit the line.
    /// </summary>
    public ResolvedCallSite ResolveFromStack(StackTrace trace)
    {
        (MethodBase Method, bool InAsyncCallee)? firstCandidate = null;
        var inAsyncCallee = false;
        var inNameResolution = false;
        foreach (var frame in trace.GetFrames())
        {
            var method = frame.GetMethod();
            if (method is null)
            {
                continue;
            }

            if (!IsApplication(method))
            {
                if (IsMultiplexedConnectionCode(method))
                {
                    return new ResolvedCallSite(SourceLocation.SharedConnection, InAsyncCallee: false);
                }

                inAsyncCallee |= IsAsyncStateMachine(method);
                inNameResolution |= IsNameResolutionCode(method);
                continue;
            }

            var file = frame.GetFileName();
            if (file is not null && !file.StartsWith("/_/", StringComparison.Ordinal))
            {
                return new ResolvedCallSite(Intern(file, frame.GetFileLineNumber(), method), inAsyncCallee);
            }

            firstCandidate ??= (method, inAsyncCallee);
        }

        return firstCandidate is { } candidate
            ? new ResolvedCallSite(Intern(null, null, candidate.Method), candidate.InAsyncCallee)
            : new ResolvedCallSite(inNameResolution ? SourceLocation.NameResolution : SourceLocation.Unknown, inAsyncCallee);
    }

    /// <summary>
    /// The interned site of a frame a kernel backend resolved itself, or <see langword="null"/> when the method is
    /// not the application's (framework, a package's library, IoTrace, a skipped namespace). A deterministic <c>/_/</c> path counts as none.
    /// </summary>
    public SourceLocation? ApplicationSite(MethodBase method, string? file, int? line)
    {
        if (!IsApplication(method))
        {
            return null;
        }

        return file is not null && !file.StartsWith("/_/", StringComparison.Ordinal)
            ? Intern(file, line, method)
            : Intern(null, null, method);
    }

    /// <summary>
    /// Whether <paramref name="method"/> is a multiplexed connection's own code: HTTP/2's, whose frame reading and
    /// writing loops run for the connection's life in the flow of the request that opened it, doing every request's IO
    /// (a continuation of one of their inner async methods has only that method on its stack).
    /// </summary>
    internal static bool IsMultiplexedConnectionCode(MethodBase method)
    {
        for (var type = method.DeclaringType; type is not null; type = type.DeclaringType)
        {
            if (type.FullName == "System.Net.Http.Http2Connection")
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="method"/> is Dns's own code (System.Net.NameResolution), jitted or precompiled.</summary>
    internal static bool IsNameResolutionCode(MethodBase method) => method.DeclaringType?.Assembly == typeof(Dns).Assembly;

    private static bool IsAsyncStateMachine(MethodBase method) =>
        method.Name == "MoveNext" && method.DeclaringType is { } type && typeof(IAsyncStateMachine).IsAssignableFrom(type);

    private SourceLocation Intern(string? file, int? line, MethodBase method) =>
        _interned.GetOrAdd((file, line, DisplayName(method)), static (k, _) => new SourceLocation(k.File, k.Line, k.Method, isApplication: true), 0);

    private bool IsApplication(MethodBase method)
    {
        var type = method.DeclaringType;
        if (type is null)
        {
            return false;
        }

        if (IsNotTheApplications(type.Assembly))
        {
            return false;
        }

        var fullName = type.FullName ?? type.Name;
        foreach (var prefix in _skippedPrefixes)
        {
            if (fullName.StartsWith(prefix, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsNotTheApplications(Assembly assembly) => s_notTheApplications.GetOrAdd(assembly, static a =>
    {
        if (a.GetCustomAttributes<AssemblyMetadataAttribute>().Any(m => m.Key == "IoTrace.Instrumentation") || PackageAssemblies.Contains(a))
        {
            return true;
        }

        var location = a.IsDynamic ? null : a.Location;
        return s_sharedFrameworkRoot is not null && !string.IsNullOrEmpty(location)
            && location.StartsWith(s_sharedFrameworkRoot, StringComparison.Ordinal);
    });

    /// <summary>The method as the user wrote it: <c>Ns.Type.Method</c>, <c>Ns.Type.Method (lambda)</c>, <c>Ns.Type.Method.Local</c>.</summary>
    internal static string DisplayName(MethodBase method)
    {
        var type = method.DeclaringType!;
        var name = UnmangledName(method.Name);

        // Closures (<>c, <>c__DisplayClass) and async/iterator state machines (<Method>d__N) are nested in the
        // type the user wrote; a state machine's MoveNext stands for the method it came from.
        while (type.Name.StartsWith('<') && type.DeclaringType is not null)
        {
            var end = type.Name.IndexOf('>', StringComparison.Ordinal);
            if (end > 1 && method.Name == "MoveNext")
            {
                name = type.Name[1..end];
            }

            type = type.DeclaringType;
        }

        return $"{type.FullName?.Replace('+', '.')}.{name}";
    }

    private static string UnmangledName(string name)
    {
        // <Outer>b__0_0 is a lambda in Outer; <Outer>g__Local|0_0 a local function.
        var end = name.IndexOf('>', StringComparison.Ordinal);
        if (!name.StartsWith('<') || end < 2 || end + 1 >= name.Length)
        {
            return name;
        }

        var outer = name[1..end];
        if (name[end + 1] == 'g')
        {
            var local = name[(end + 4)..];
            var bar = local.IndexOf('|', StringComparison.Ordinal);
            return $"{outer}.{(bar > 0 ? local[..bar] : local)}";
        }

        return name[end + 1] == 'b' ? $"{outer} (lambda)" : name;
    }

    private static string? FindSharedFrameworkRoot()
    {
        // <dotnet>/shared/Microsoft.NETCore.App/<version>/System.Private.CoreLib.dll -> <dotnet>/shared/
        var coreLib = typeof(object).Assembly.Location;
        var versionDir = string.IsNullOrEmpty(coreLib) ? null : Directory.GetParent(coreLib);
        var shared = versionDir?.Parent?.Parent;
        return shared is not null && shared.Name == "shared" ? shared.FullName + Path.DirectorySeparatorChar : null;
    }
}
