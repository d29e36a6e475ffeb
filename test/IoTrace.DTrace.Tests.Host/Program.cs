using IoTrace;
using IoTrace.DTrace;
using IoTrace.Tests.Shared;

// Attaches the dtrace backend, then with "files ROOT" does FileSystemWork under ROOT in a trace and prints its rows;
// with "wait", says READY and waits to be killed.
var warnings = new HostWarnings();
IoTracer.LoggerFactory = warnings;
IoTracer.AddBackend(IoTraceDTrace.Backend);
if (!IoTracer.TryEnable("dtrace", out var reason))
{
    Console.WriteLine($"FAILED {reason}");
    return 1;
}

if (args is ["files", var root])
{
    var report = IoTracer.Trace(Strategy.All, () => FileSystemWork.Run(root));
    foreach (var a in report.Aggregates)
    {
        Console.WriteLine($"{a.Probe}\t{Path.GetFileName(a.File)}\t{a.Line}\t{a.Calls}\t{a.Bytes}\t{a.Target}");
    }

    Console.WriteLine(warnings.Done(report));
    return 0;
}

if (args is ["wait"])
{
    Console.WriteLine("READY");
    Console.Out.Flush();
    Console.In.ReadLine();
    return 0;
}

Console.WriteLine("usage: files ROOT | wait");
return 2;
