using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IoTrace.Ebpf.Attribution;
using IoTrace.Ebpf.Kernel;
using IoTrace.Symbols.Native;
using IoTrace.Ebpf.Tests.TestSupport;
using Microsoft.Data.Sqlite;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests;

/// <summary>
/// SQLite's IO comes from e_sqlite3, built without frame pointers: the kernel's walk reaches the query's line only
/// through the unwind rules the process learns from that library's .eh_frame (<see cref="NativeUnwindRules"/>).
/// </summary>
[Collection(typeof(KernelTracing))]
public sealed class SqliteLineTests(EbpfFixture fixture) : IDisposable
{
    /// <summary>Traces of the same query taken at most: a failure then shows whether the lines came late or never.</summary>
    private const int MaxLearningRounds = 4;

    private readonly string _directory = Directory.CreateTempSubdirectory("iotrace-sqlite-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Trace_SqliteQuery_DatabaseReadsLocksAndOpenOnTheLinesTheInProcessBackendGives()
    {
        var (path, inProcess) = InProcessReference("items.db");

        // Enabling the eBPF backend again attaches anew, with nothing learned yet.
        fixture.Require();
        Assert.True(EbpfFixture.Backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));

        // e_sqlite3 was loaded before this attach: the first flush teaches the kernel's walk its frames (a search
        // through the whole library), before it sees any of their stacks.
        var traces = new List<List<(string Probe, int? Line, long Calls, long Bytes)>>();
        do
        {
            var kernel = IoTracer.Trace(Strategy.All, () => Query(path));
            Assert.Equal("ebpf", kernel.Backend);
            Assert.True(kernel.IsComplete);
            traces.Add(Database(kernel, path));
        }
        while (!traces[^1].SequenceEqual(inProcess) && traces.Count < MaxLearningRounds);

        var openLine = SourceLines.Of("connection.Open(); // the open line");
        var queryLine = SourceLines.Of("command.ExecuteScalar()!; // the query line");
        Assert.Equal(inProcess, traces[^1]);
        Assert.Single(traces);
        Assert.Equal([("openat", openLine, 1L, 0L), ("pread64", openLine, 1L, 100L), ("pread64", queryLine, 8L, 28_688L)], inProcess.Where(a => a.Probe != "fcntl"));
        Assert.All(traces.SelectMany(t => t), a => Assert.True(a.Line is null || inProcess.Any(r => r.Probe == a.Probe && r.Line == a.Line), $"{a} is on a line the reference does not give"));
        var lesson = Assert.Single(EbpfFixture.Backend.NativeFirstLessons, l => l.Library.EndsWith("libe_sqlite3.so", StringComparison.Ordinal));
        Assert.InRange(lesson.Rules, 8_000, NativeUnwindRules.FirstLessonRules);
        TestContext.Current.SendDiagnosticMessage($"SQLite lines after {traces.Count} trace(s); e_sqlite3's first lesson taught {lesson.Rules} unwind rules in {lesson.Elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Trace_SqliteQueryNotLearnedAhead_LinesLearnedFromItsStacksAndNeverAWrongOneMeanwhile()
    {
        var (path, inProcess) = InProcessReference("stacks.db");

        // As for a library loaded during a request: the kernel's walk stops in it, marks the stack, and each flush
        // teaches the frame it stopped at (a library's first lesson: the whole search).
        EbpfBackend.LearnLoadedLibrariesAhead = false;
        try
        {
            fixture.Require();
            Assert.True(EbpfFixture.Backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));
            var traces = new List<List<(string Probe, int? Line, long Calls, long Bytes)>>();
            do
            {
                traces.Add(Database(IoTracer.Trace(Strategy.All, () => Query(path)), path));
            }
            while (!traces[^1].SequenceEqual(inProcess) && traces.Count < MaxLearningRounds);

            Assert.Equal(inProcess, traces[^1]);
            Assert.InRange(traces.Count, 2, 3);
            Assert.All(traces[0], a => Assert.Null(a.Line));
            Assert.All(traces.SelectMany(t => t), a => Assert.True(a.Line is null || inProcess.Any(r => r.Probe == a.Probe && r.Line == a.Line), $"{a} is on a line the reference does not give"));
            TestContext.Current.SendDiagnosticMessage($"SQLite lines learned from its stacks after {traces.Count} trace(s)");
        }
        finally
        {
            EbpfBackend.LearnLoadedLibrariesAhead = true;
        }
    }

    /// <summary>
    /// The request that loads e_sqlite3: the library is learned as it loads (its dlopen, in the request's thread),
    /// before its first call, so even that request's calls have their lines. A process of its own, where no SQLite was
    /// loaded before; its rows are the reference's, on the host's lines.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Trace_SqliteLoadedDuringTheTrace_FreshProcess_CallsHaveTheirLinesAtOnce()
    {
        fixture.Require();
        var path = Path.Combine(_directory, "fresh.db");
        CreateDatabase(path, rows: 20);

        var (rows, done, exitCode) = await HostProcess.TraceAsync("sqlite", path);

        Assert.Equal(("DONE ebpf True", 0), (done, exitCode));
        var open = HostProcess.LineOf("connection.Open(); // the host's open");
        var query = HostProcess.LineOf("command.ExecuteScalar()!; // the host's query");
        var database = rows
            .Where(r => r[5] == path && r[0] is "pread64" or "fcntl" or "openat")
            .Select(r => (Probe: r[0], File: r[1], Line: r[2], Calls: long.Parse(r[3], CultureInfo.InvariantCulture), Bytes: long.Parse(r[4], CultureInfo.InvariantCulture)))
            .ToList();
        Assert.All(database, r => Assert.True(r.File == "Program.cs" && (r.Line == Text(open) || r.Line == Text(query)), $"{r} has no line of the host's query"));
        Assert.Equal(
            [("openat", Text(open), 1L, 0L), ("pread64", Text(open), 1L, 100L), ("pread64", Text(query), 8L, 28_688L)],
            database.Where(r => r.Probe != "fcntl").Select(r => (r.Probe, r.Line, r.Calls, r.Bytes)).Order());
        Assert.Contains(database, r => r.Probe == "fcntl" && r.Line == Text(query));

        // The lesson's own reads (the process's maps, the library's .eh_frame) are hidden from the trace: of the
        // library's file, only the loader's read of its ELF header is the request's.
        Assert.DoesNotContain(rows, r => r[5].StartsWith("/proc/self/", StringComparison.Ordinal));
        Assert.Equal([("read", "1", "832")], rows.Where(r => r[5].EndsWith("/libe_sqlite3.so", StringComparison.Ordinal) && r[0] is "read" or "pread64").Select(r => (r[0], r[3], r[4])));
    }

    private static string Text(int line) => line.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// A database of 20 rows, queried once untraced (the query's code is jitted), then traced by the in-process
    /// backend, the reference: it walks the managed stack at each of e_sqlite3's calls. The in-process backend stays enabled.
    /// </summary>
    private (string Path, List<(string Probe, int? Line, long Calls, long Bytes)> InProcess) InProcessReference(string name)
    {
        fixture.Require();
        var path = Path.Combine(_directory, name);
        CreateDatabase(path, rows: 20);
        Assert.Equal(20 * 1000L, Query(path));
        Assert.True(IoTracer.TryEnable("inprocess", out var reason), reason);
        return (path, Database(IoTracer.Trace(Strategy.All, () => Query(path)), path));
    }

    /// <summary>
    /// The database's reads, locks and open per line. Its <c>newfstatat</c>s and <c>close</c> are left out: some are
    /// made by the disposal at the method's end, to which the kernel gives the last statement's line, where the
    /// in-process backend gives the method's first (the runtime's stack trace puts a <c>finally</c> at IL offset 0).
    /// </summary>
    private static List<(string Probe, int? Line, long Calls, long Bytes)> Database(IoTraceReport report, string path) =>
        [.. report.Aggregates
            .Where(a => a.Target == path && a.Probe is "pread64" or "fcntl" or "openat")
            .GroupBy(a => (a.Probe, a.Line))
            .Select(g => (g.Key.Probe, g.Key.Line, g.Sum(a => a.Calls), g.Sum(a => a.Bytes)))
            .OrderBy(a => a.Probe, StringComparer.Ordinal).ThenBy(a => a.Line)];

    /// <summary>
    /// A walk that stopped at a native frame without a rule keeps that short path for its wrapper call (the kernel's
    /// kept native paths), as a full walk keeps its full path; a rule taught or taken away must retire both, or a call
    /// would keep the line it had (or never get one). A prepared query on an open connection makes its calls in
    /// sqlite3_step only: the rules of sqlite3_step's calls are taken from the kernel, so its walks stop there, then
    /// taught again.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Trace_RulesTakenAwayThenTaughtAgain_NextTraceFollowsEachTime()
    {
        var path = Path.Combine(_directory, "kept.db");
        CreateDatabase(path, rows: 20);
        fixture.Require();
        var backend = EbpfFixture.Backend;
        Assert.True(backend.WaitUntilCodeMapCurrent(TimeSpan.FromSeconds(30)));
        var stepRules = RulesInSqlite3Step();
        Assert.NotEmpty(stepRules);
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM items";
        command.Prepare();
        var countLine = SourceLines.Of("command.ExecuteScalar(); // the count line");
        [MethodImpl(MethodImplOptions.NoInlining)]
        object? Run() => command.ExecuteScalar(); // the count line
        List<(string Probe, int? Line, long Calls, long Bytes)> Count() => Database(IoTracer.Trace(Strategy.All, () => Run()), path);

        // The first query on the connection reads the table's pages; later ones only the change counter (16 bytes).
        var learned = Count();
        for (var i = 1; i < MaxLearningRounds && (i < 2 || learned.Any(a => a.Line != countLine)); i++)
        {
            learned = Count();
        }

        foreach (var (returnAddress, _) in stepRules)
        {
            backend.SendUnwindRule(returnAddress, 0);
        }

        List<(string Probe, int? Line, long Calls, long Bytes)> stopped;
        try
        {
            stopped = Count();
        }
        finally
        {
            // Taught again whatever happens: the attachment is shared with the other tests.
            foreach (var (returnAddress, rule) in stepRules)
            {
                backend.SendUnwindRule(returnAddress, rule);
            }
        }

        var taughtAgain = Count();

        // The change counter is read in sqlite3_step (the pager's lock); one of the locks is released in sqlite3_reset.
        Assert.All(learned, a => Assert.Equal(countLine, a.Line));
        Assert.Equal([("pread64", countLine, 1L, 16L)], learned.Where(a => a.Probe == "pread64"));
        Assert.Equal([("pread64", null, 1L, 16L)], stopped.Where(a => a.Probe == "pread64"));
        Assert.Equal(learned, taughtAgain);
    }

    /// <summary>The unwind rules of the return addresses inside e_sqlite3's sqlite3_step, as its first lesson teaches them.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static List<(ulong ReturnAddress, long Rule)> RulesInSqlite3Step()
    {
        var rules = new List<(ulong, long)>();
        _ = new NativeUnwindRules((ip, rule) => rules.Add((ip, rule)), NativeUnwindRules.MaxRules, appDirectory: AppContext.BaseDirectory).TeachAppLibraries(loaded: true);
        var library = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libe_sqlite3.so");
        var step = (ulong)NativeLibrary.GetExport(NativeLibrary.Load(library), "sqlite3_step");
        var image = ElfImage.Parse(File.ReadAllBytes(library));
        var bias = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6 && f[5] == library && f[1].Contains('x', StringComparison.Ordinal))
            .Select(f => image.LoadBias(ulong.Parse(f[0].Split('-')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture), ulong.Parse(f[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture)))
            .First()!.Value;
        Assert.True(EhFrame.Open(image)!.TryFind(step - bias, out var function));
        return [.. rules.Where(r => r.Item1 - 1 - bias >= function.Start && r.Item1 - 1 - bias < function.End)];
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Query(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open(); // the open line
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sum(length(payload)) FROM items";
        return (long)command.ExecuteScalar()!; // the query line
    }

    private static void CreateDatabase(string path, int rows)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"CREATE TABLE items (id INTEGER PRIMARY KEY, payload BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) INSERT INTO items SELECT i, zeroblob(1000) FROM n;";
        command.ExecuteNonQuery();
    }
}
