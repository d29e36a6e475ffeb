using System.Runtime.CompilerServices;
using IoTrace;
using IoTrace.Ebpf;
using IoTrace.Tests.Shared;
using Microsoft.Data.Sqlite;

// Attaches the eBPF backend, says so, then waits to be killed: it never disposes anything.
// With "http URL": instead makes the process's first traced HttpClient call to URL and prints the report's rows.
// With "files ROOT": instead does FileSystemWork under ROOT in a trace, and prints its rows.
// With "sqlite PATH": instead queries the database at PATH in a trace that loads SQLite's native library, and prints its rows.
var warnings = new HostWarnings();
IoTracer.LoggerFactory = warnings;
IoTracer.AddBackend(IoTraceEbpf.Backend);
if (!IoTracer.TryEnable("ebpf", out var reason))
{
    Console.WriteLine($"FAILED {reason}");
    return 1;
}

if (args is ["http", var url])
{
    using var http = new HttpClient();
    var report = await IoTracer.TraceAsync(Strategy.All, async () => _ = await http.GetStringAsync(new Uri(url))); // the host's request
    Print(report, warnings);
    return 0;
}

if (args is ["files", var root])
{
    var report = IoTracer.Trace(Strategy.All, () => FileSystemWork.Run(root));
    Print(report, warnings);
    return 0;
}

if (args is ["sqlite", var database])
{
    var report = IoTracer.Trace(Strategy.All, () => Query(database));
    Print(report, warnings);
    return 0;
}

Console.WriteLine("READY");
Console.Out.Flush();
Console.In.ReadLine();
return 0;

static void Print(IoTraceReport report, HostWarnings warnings)
{
    foreach (var a in report.Aggregates)
    {
        Console.WriteLine($"{a.Probe}\t{Path.GetFileName(a.File)}\t{a.Line}\t{a.Calls}\t{a.Bytes}\t{a.Target}");
    }

    Console.WriteLine(warnings.Done(report));
}

[MethodImpl(MethodImplOptions.NoInlining)]
static long Query(string path)
{
    using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
    connection.Open(); // the host's open
    using var command = connection.CreateCommand();
    command.CommandText = "SELECT sum(length(payload)) FROM items";
    return (long)command.ExecuteScalar()!; // the host's query
}
