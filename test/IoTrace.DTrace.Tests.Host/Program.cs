using IoTrace;
using IoTrace.DTrace;
using IoTrace.Tests.Shared;

// Attaches the dtrace backend, then with "files ROOT" does FileSystemWork under ROOT in a trace and prints its rows;
// after it, "flows": eight threads each read a file of its own under ROOT in a trace of its own, Read or Summary by
// turns, and each prints its totals by probe; "connect": a trace connects to a listener on loopback and prints its
// connect rows' targets and the listener's address. With "wait", says READY and waits to be killed. "--syscall-provider" first makes the
// backend run the other systems' script (DTraceBackend.ScriptKind; run it under strace, which keeps dtrace from ptracing).
if (args is ["--syscall-provider", .. var rest])
{
    DTraceBackend.ScriptKind = IoTrace.DTrace.Script.DTraceScriptKind.SyscallProvider;
    args = rest;
}

var warnings = new HostWarnings();
IoTracer.LoggerFactory = warnings;
IoTracer.AddBackend(IoTraceDTrace.Backend);
if (!IoTracer.TryEnable("dtrace", out var reason))
{
    Console.WriteLine($"FAILED {reason}");
    return 1;
}

if (args is ["files", var root, .. var then])
{
    var report = IoTracer.Trace(Strategy.All, () => FileSystemWork.Run(root));
    foreach (var a in report.Aggregates)
    {
        Console.WriteLine($"{a.Probe}\t{Path.GetFileName(a.File)}\t{a.Line}\t{a.Calls}\t{a.Bytes}\t{a.Target}");
    }

    Console.WriteLine(warnings.Done(report));
    if (then.Contains("flows"))
    {
        Flows(root);
    }

    if (then.Contains("connect"))
    {
        Connect();
    }

    return 0;
}

if (args is ["wait"])
{
    Console.WriteLine("READY");
    Console.Out.Flush();
    Console.In.ReadLine();
    return 0;
}

Console.WriteLine("usage: [--syscall-provider] files ROOT [flows] [connect] | wait");
return 2;

static void Flows(string folder)
{
    var totals = new string[8];
    var flows = Enumerable.Range(0, totals.Length).Select(i => new Thread(() =>
    {
        var path = Path.Combine(folder, $"flow{i}.bin");
        File.WriteAllBytes(path, new byte[1000 * (i + 1)]);
        var report = IoTracer.Trace(i % 2 == 0 ? Strategy.Read : Strategy.Summary, () =>
        {
            for (var read = 0; read < 3; read++)
            {
                File.ReadAllBytes(path);
            }
        });
        var byProbe = report.Aggregates.GroupBy(static a => a.Probe, StringComparer.Ordinal).OrderBy(static g => g.Key, StringComparer.Ordinal)
            .Select(static g => $"{g.Key} {g.Sum(static a => a.Calls)} {g.Sum(static a => a.Bytes)}");
        totals[i] = $"{i} {report.IsComplete} {string.Join(", ", byProbe)}";
    })).ToList();
    flows.ForEach(static t => t.Start());
    flows.ForEach(static t => t.Join());
    Array.ForEach(totals, Console.WriteLine);
}

static void Connect()
{
    using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
    // 127.0.0.2, loopback too: FileSystemWork's socket is the one bound to 127.0.0.1.
    listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Parse("127.0.0.2"), 0));
    listener.Listen();
    using var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
    var report = IoTracer.Trace(Strategy.All, () => client.Connect(listener.LocalEndPoint!));
    var targets = report.Aggregates.Where(static a => a.Probe == "connect").Select(static a => $"{a.Calls} {a.Target}");
    Console.WriteLine($"connect {listener.LocalEndPoint} {string.Join(", ", targets)}");
}
