using IoTrace;

// Attaches the eBPF backend, says so, then waits to be killed: it never disposes anything.
if (!IoTracer.TryEnable("ebpf", out var reason))
{
    Console.WriteLine($"FAILED {reason}");
    return 1;
}

Console.WriteLine("READY");
Console.Out.Flush();
Console.In.ReadLine();
return 0;
