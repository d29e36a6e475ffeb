using System.Reflection;
using System.Text.Json;

namespace IoTrace.Attribution;

/// <summary>
/// The assemblies the app took from NuGet packages, as its <c>.deps.json</c> lists them: library code (Npgsql,
/// StackExchange.Redis), never the app's own line. Without a deps file (an app run from loose assemblies) none is known.
/// </summary>
internal static class PackageAssemblies
{
    private static readonly HashSet<string> s_names = Read(AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string);

    public static bool Contains(Assembly assembly) => assembly.GetName().Name is { } name && s_names.Contains(name);

    /// <summary>The simple names of the runtime assemblies of every library of type <c>package</c> in the deps files (';'-separated).</summary>
    internal static HashSet<string> Read(string? depsFiles)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var file in (depsFiles ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try
            {
                using var stream = File.OpenRead(file);
                using var deps = JsonDocument.Parse(stream);
                AddPackages(deps.RootElement, names);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException or KeyNotFoundException)
            {
                // A deps file that cannot be read names no package: lines then fall back to the frames' own PDB lines.
            }
        }

        return names;
    }

    private static void AddPackages(JsonElement deps, HashSet<string> names)
    {
        if (!deps.TryGetProperty("libraries", out var libraries) || !deps.TryGetProperty("targets", out var targets))
        {
            return;
        }

        foreach (var target in targets.EnumerateObject())
        {
            foreach (var library in target.Value.EnumerateObject())
            {
                if (!libraries.TryGetProperty(library.Name, out var described)
                    || !described.TryGetProperty("type", out var type) || type.GetString() != "package")
                {
                    continue;
                }

                foreach (var section in (string[])["runtime", "runtimeTargets"])
                {
                    if (library.Value.TryGetProperty(section, out var assets))
                    {
                        foreach (var asset in assets.EnumerateObject())
                        {
                            if (asset.Name.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
                            {
                                names.Add(Path.GetFileNameWithoutExtension(asset.Name));
                            }
                        }
                    }
                }
            }
        }
    }
}
