using System.Globalization;
using IoTrace;
using Microsoft.Data.Sqlite;

// Usage: IoTrace.Tests.Target <read|sqlite> <path>
// Runs one workload inside a trace and prints each aggregate as a tab-separated line:
// probe, target, file, line, calls, bytes. The caller runs this under strace and compares.
var mode = args[0];
var path = args[1];

var report = mode switch
{
    "read" => IoTracer.Trace(Strategy.All, () => ReadInChunks(path)),
    "sqlite" => IoTracer.Trace(Strategy.All, () => QuerySqlite(path)),
    _ => throw new ArgumentException($"Unknown mode '{mode}'. Allowed values: read, sqlite."),
};

foreach (var a in report.Aggregates)
{
    Console.Out.WriteLine(string.Join('\t', a.Probe, a.Target, a.File, a.Line?.ToString(CultureInfo.InvariantCulture), a.Calls.ToString(CultureInfo.InvariantCulture), a.Bytes.ToString(CultureInfo.InvariantCulture)));
}

return 0;

static void ReadInChunks(string path)
{
    using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
    var buffer = new byte[4096];
    while (file.Read(buffer) > 0)
    {
    }
}

static void QuerySqlite(string path)
{
    using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
    connection.Open();
    using var command = connection.CreateCommand();
    command.CommandText = "SELECT count(*), sum(length(payload)) FROM items";
    using var reader = command.ExecuteReader();
    reader.Read();
    Console.Error.WriteLine($"rows={reader.GetInt64(0)}");
}
