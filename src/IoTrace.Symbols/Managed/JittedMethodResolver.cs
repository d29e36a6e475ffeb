using System.Collections.Concurrent;
using System.Reflection;

namespace IoTrace.Symbols.Managed;

/// <summary>
/// Which method a jitted method id is (its <see cref="MethodBase"/>, found through its module's loaded assemblies) and
/// its source lines (the module's portable PDB). The answer is final when it says so: a method of a module that
/// matches no loaded assembly never will, and keeps its names only.
/// </summary>
internal sealed class JittedMethodResolver(ConcurrentDictionary<long, string> modulePaths) : IDisposable
{
    private readonly ConcurrentDictionary<string, Module[]> _modulesByPath = new(StringComparer.Ordinal);
    private readonly PortablePdbLines _pdbLines = new();

    public void Dispose() => _pdbLines.Dispose();

    public (MethodBase?, MethodLines?, bool) Resolve(JittedMethod jitted)
    {
        if (jitted.IsDynamic || (jitted.Token >> 24) != 0x06)
        {
            return (null, null, true);
        }

        if (!modulePaths.TryGetValue(jitted.ModuleId, out var path))
        {
            return (null, null, false);
        }

        // Code from a module runs only once the module is loaded, so a module that matches no loaded assembly never
        // will (in-memory and single-file assemblies have no path to match): names only, for good.
        var modules = FindModules(path);
        if (modules.Length == 0)
        {
            return (null, null, true);
        }

        MethodBase? method = null;
        foreach (var module in modules)
        {
            try
            {
                var candidate = module.ResolveMethod(jitted.Token);

                // The same file loaded into two contexts: the MethodDesc identifies the right one.
                if (candidate is not null && (method is null || candidate.MethodHandle.Value == (nint)jitted.MethodId))
                {
                    method = candidate;
                }
            }
            catch (Exception e) when (e is ArgumentException or BadImageFormatException or InvalidOperationException)
            {
            }
        }

        return (method, _pdbLines.GetMethodLines(path, jitted.Token), true);
    }

    private Module[] FindModules(string path)
    {
        if (_modulesByPath.TryGetValue(path, out var modules))
        {
            return modules;
        }

        // A scan of the loaded assemblies, cached per path (the same file loaded later into a second load context
        // is not seen; its methods then resolve against the first).
        var found = new List<Module>();
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (assembly.IsDynamic)
            {
                continue;
            }

            foreach (var module in assembly.GetModules())
            {
                if (string.Equals(module.FullyQualifiedName, path, StringComparison.Ordinal))
                {
                    found.Add(module);
                }
            }
        }

        modules = [.. found];
        if (modules.Length > 0)
        {
            _modulesByPath[path] = modules;
        }

        return modules;
    }
}
