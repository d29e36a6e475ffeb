using IoTrace.Attribution;
using Xunit;

namespace IoTrace.Tests.Attribution;

/// <summary>Which assemblies are a NuGet package's library, never the app's own line: as the app's deps.json says.</summary>
public sealed class PackageAssembliesTests : IDisposable
{
    private readonly string _deps = Path.Combine(Path.GetTempPath(), $"iotrace-{Guid.NewGuid():N}.deps.json");

    public void Dispose() => File.Delete(_deps);

    [Fact]
    public void Read_DepsWithPackagesAndProjects_NamesThePackagesRuntimeAssembliesOnly()
    {
        File.WriteAllText(_deps, """
            {
              "targets": { ".NETCoreApp,Version=v10.0": {
                "App/1.0.0": { "dependencies": { "Npgsql": "10.0.3" }, "runtime": { "App.dll": {} } },
                "Domain/1.0.0": { "runtime": { "Domain.dll": {} } },
                "Npgsql/10.0.3": { "runtime": { "lib/net10.0/Npgsql.dll": {} } },
                "SQLitePCLRaw.lib.e_sqlite3/2.1.11": { "runtimeTargets": { "runtimes/linux-x64/native/libe_sqlite3.so": {}, "runtimes/win-x64/lib/net10.0/Helper.dll": {} } }
              } },
              "libraries": {
                "App/1.0.0": { "type": "project" },
                "Domain/1.0.0": { "type": "project" },
                "Npgsql/10.0.3": { "type": "package" },
                "SQLitePCLRaw.lib.e_sqlite3/2.1.11": { "type": "package" }
              }
            }
            """);

        Assert.Equal(["Helper", "Npgsql"], PackageAssemblies.Read(_deps).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Read_MissingOrBrokenDeps_NamesNone()
    {
        File.WriteAllText(_deps, "{ \"targets\": ");

        Assert.Empty(PackageAssemblies.Read(_deps + ";/nonexistent/app.deps.json"));
        Assert.Empty(PackageAssemblies.Read(null));
    }

    [Fact]
    public void Contains_ThisTestRun_XunitIsAPackageAndTheTestsAreNot()
    {
        Assert.True(PackageAssemblies.Contains(typeof(FactAttribute).Assembly));
        Assert.False(PackageAssemblies.Contains(typeof(PackageAssembliesTests).Assembly));
    }
}
