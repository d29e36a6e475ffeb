using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;

namespace IoTrace.Core;

/// <summary>
/// Finds the first application frame on the stack and caches the answer on a cheap key of the call path,
/// because a <see cref="StackTrace"/> with file information costs about 12 us.
/// </summary>
internal sealed class CallSiteResolver
{
    // Tiered JIT gives one call site several keys over time; past this the cache starts over.
    private const int MaxCachedKeys = 1 << 16;

    private static readonly string? s_sharedFrameworkRoot = FindSharedFrameworkRoot();
    private static readonly ConcurrentDictionary<Assembly, bool> s_ownAssemblies = new();

    private readonly string[] _skippedPrefixes;
    private readonly ConcurrentDictionary<ulong, CallSite> _byKey = new();
    private readonly ConcurrentDictionary<(string? File, int? Line, string? Method), CallSite> _interned = new();

    public CallSiteResolver(IEnumerable<string> skippedPrefixes)
    {
        _skippedPrefixes = [.. skippedPrefixes.Where(p => !string.IsNullOrEmpty(p))];
    }

    public int CachedKeys => _byKey.Count;

    /// <summary>Resolves the call path identified by <paramref name="key"/>, walking the stack only on a miss.</summary>
    public CallSite Resolve(ulong key)
    {
        if (_byKey.TryGetValue(key, out var site))
        {
            return site;
        }

        site = ResolveFromStack(new StackTrace(1, fNeedFileInfo: true));
        if (_byKey.Count >= MaxCachedKeys)
        {
            _byKey.Clear();
        }

        _byKey.TryAdd(key, site);
        return site;
    }

    public CallSite ResolveFromStack(StackTrace trace)
    {
        foreach (var frame in trace.GetFrames())
        {
            var method = frame.GetMethod();
            if (method is null || !IsApplication(method))
            {
                continue;
            }

            var file = frame.GetFileName();
            int? line = file is null ? null : frame.GetFileLineNumber();
            var name = DisplayName(method);
            return _interned.GetOrAdd((file, line, name), static (k, _) => new CallSite(k.File, k.Line, k.Method, isApplication: true), 0);
        }

        return CallSite.Unknown;
    }

    private bool IsApplication(MethodBase method)
    {
        var type = method.DeclaringType;
        if (type is null)
        {
            return false;
        }

        var assembly = type.Assembly;
        if (IsOwnOrFramework(assembly))
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

    private static bool IsOwnOrFramework(Assembly assembly) => s_ownAssemblies.GetOrAdd(assembly, static a =>
    {
        if (a.GetCustomAttributes<AssemblyMetadataAttribute>().Any(m => m.Key == "IoTrace.Instrumentation"))
        {
            return true;
        }

        var location = a.IsDynamic ? null : a.Location;
        return s_sharedFrameworkRoot is not null && !string.IsNullOrEmpty(location)
            && location.StartsWith(s_sharedFrameworkRoot, StringComparison.Ordinal);
    });

    private static string DisplayName(MethodBase method)
    {
        var type = method.DeclaringType!;
        var name = method.Name;

        // Async and iterator state machines: report the method the user wrote, not MoveNext.
        if (type.Name.StartsWith('<') && type.DeclaringType is not null)
        {
            var end = type.Name.IndexOf('>', StringComparison.Ordinal);
            if (end > 1)
            {
                name = type.Name[1..end];
                type = type.DeclaringType;
            }
        }

        return $"{type.FullName?.Replace('+', '.')}.{name}";
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
