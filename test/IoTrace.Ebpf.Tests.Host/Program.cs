using IoTrace;

// Attaches the eBPF backend, says so, then waits to be killed: it never disposes anything.
// With "http URL": instead makes the process's first traced HttpClient call to URL and prints the report's rows.
if (!IoTracer.TryEnable("ebpf", out var reason))
{
    Console.WriteLine($"FAILED {reason}");
    return 1;
}

if (args is ["http", var url])
{
    using var http = new HttpClient();
    var report = await IoTracer.TraceAsync(Strategy.All, async () => _ = await http.GetStringAsync(new Uri(url))); // the host's request
    foreach (var a in report.Aggregates)
    {
        Console.WriteLine($"{a.Probe}\t{Path.GetFileName(a.File)}\t{a.Line}\t{a.Calls}\t{a.Bytes}\t{a.Target}");
    }

    Console.WriteLine($"DONE {report.Backend} {report.IsComplete}");
    return 0;
}

Console.WriteLine("READY");
Console.Out.Flush();
Console.In.ReadLine();
return 0;
