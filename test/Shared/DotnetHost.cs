namespace IoTrace.Tests.Shared;

/// <summary>The dotnet host that runs a test's child processes.</summary>
internal static class DotnetHost
{
    /// <summary>
    /// The one dotnet test names, else this process's if it is one (not a test project's own executable, run directly
    /// as xunit allows), else the PATH's.
    /// </summary>
    public static string Path =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH")
        ?? (Environment.ProcessPath is { } path && System.IO.Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet");
}
