using System.Runtime.CompilerServices;
using IoTrace.Probes;
using Xunit;

namespace IoTrace.Tests.Probes;

public sealed class ProbeCatalogTests
{
    [Fact]
    public void Records_ATransfer_CountsInReadAndInWriteNotInSetup()
    {
        Assert.Equal(ProbeKind.Transfer, ProbeCatalog.Kind(ProbeCatalog.IndexOf("copy_file_range")));
        Assert.Equal(
            (true, true, false, true, true),
            (ProbeCatalog.Records(Strategy.Read, ProbeKind.Transfer), ProbeCatalog.Records(Strategy.Write, ProbeKind.Transfer),
             ProbeCatalog.Records(Strategy.Setup, ProbeKind.Transfer), ProbeCatalog.Records(Strategy.Summary, ProbeKind.Transfer),
             ProbeCatalog.Records(Strategy.All, ProbeKind.Transfer)));
    }

    [Fact]
    public void Range_LinuxAndWindows_EachHasTheLibraryCallsAndItsOwnOperationsOnly()
    {
        static string[] Names((int First, int Count) range) => [.. Enumerable.Range(range.First, range.Count).Select(ProbeCatalog.Name)];
        var linux = Names(ProbeCatalog.Range(windows: false));
        var windows = Names(ProbeCatalog.Range(windows: true));

        Assert.Equal(["activity", "getaddrinfo", "getnameinfo", "http", "redis"], linux.Intersect(windows).Order(StringComparer.Ordinal));
        Assert.Contains("pread64", linux);
        Assert.DoesNotContain(linux, n => n.StartsWith("FileIO/", StringComparison.Ordinal) || n.StartsWith("AFD/", StringComparison.Ordinal));
        Assert.All(windows.Except(linux), n => Assert.True(n.StartsWith("FileIO/", StringComparison.Ordinal) || n.StartsWith("AFD/", StringComparison.Ordinal), n));
        Assert.Equal(ProbeCatalog.Count, linux.Union(windows).Count());
    }

    [Fact]
    public void Readme_ProbeTable_NamesEveryProbeOfTheCatalogOnce()
    {
        var readme = File.ReadAllLines(Path.Combine(Path.GetDirectoryName(ThisFile())!, "..", "..", "..", "README.md"));
        var table = readme.SkipWhile(static l => !l.StartsWith("| Strategy | Probes |", StringComparison.Ordinal)).TakeWhile(static l => l.StartsWith('|')).ToList();

        // Each probe opens a comma-separated item of the second column: `name`, maybe followed by a remark.
        var named = table.SelectMany(static row => row.Split('|')[2].Split(',', StringSplitOptions.TrimEntries))
            .Where(static item => item.StartsWith('`'))
            .Select(static item => item[1..item.IndexOf('`', 1)])
            .ToList();

        Assert.Equal(Enumerable.Range(0, ProbeCatalog.Count).Select(ProbeCatalog.Name).Order(StringComparer.Ordinal), named.Order(StringComparer.Ordinal));
    }

    private static string ThisFile([CallerFilePath] string file = "") => file;
}
