using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IoTrace;
using IoTrace.AspNetCore.Tests.Host;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// Usage: IoTrace.AspNetCore.Tests.Host <file>
// An app traced with All, for ShutdownTests to stop with SIGTERM while requests are in flight. It writes one line
// per event to stdout, and nothing else:
//   listening <url>
//   report <path> <status> <calls> <bytes> <complete>     each RequestTraced event
//   log <level> <category> <event id>: <message>           every warning or error, from any category
//   stopped                                                the host has stopped; Main returns next
//   hooks <slots> slots, <patched> patched, <moved> not at their original target    at process exit
// GET /block reads the file, sends its headers, waits until the app is stopping, reads the file again and ends
// the body with the bytes read. GET /spin reads the file in a loop that ignores shutdown: it is still running
// when the runtime exits, so the hooks are restored under its calls.
var file = args[0];

// A session of its own: anything it starts shares the session id, so the test can tell that nothing outlived it.
if (setsid() < 0)
{
    Console.Error.WriteLine($"setsid failed: {Marshal.GetLastPInvokeError()}");
    return 2;
}

var builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Logging.ClearProviders().AddProvider(new StdoutLines());
builder.Services.AddIoTrace(o => o.Strategy = Strategy.All);

// /spin never ends: give up on it soon.
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));

var app = builder.Build();
app.UseIoTrace();
app.Map("/block", block => block.Run(async context =>
{
    var before = await File.ReadAllBytesAsync(file);
    await context.Response.Body.FlushAsync();
    try
    {
        await Task.Delay(Timeout.Infinite, app.Lifetime.ApplicationStopping);
    }
    catch (OperationCanceledException)
    {
        // Stopping: finish the request as a well-behaved endpoint does.
    }

    var after = await File.ReadAllBytesAsync(file);
    await context.Response.WriteAsync((before.Length + after.Length).ToString(CultureInfo.InvariantCulture));
}));
app.Map("/spin", spin => spin.Run(async context =>
{
    await context.Response.Body.FlushAsync();
    while (true)
    {
        await File.ReadAllBytesAsync(file);
    }
}));

await app.StartAsync();

// The tracer restores its hooks in its own ProcessExit handler, added when the backend was chosen (at startup, by the
// options validator); this one runs after it and says what the GOT slots hold then.
_ = IoTracer.BackendName;
AppDomain.CurrentDomain.ProcessExit += (_, _) => Console.WriteLine(HookState());
Console.WriteLine($"listening {app.Urls.Single()}");
await app.WaitForShutdownAsync();
Console.WriteLine("stopped");
return 0;

// The in-process backend's slots, through reflection: this process is an app, not a friend assembly of the core.
static string HookState()
{
    var backend = typeof(IoTracer).GetProperty("Backend", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!;
    var slots = (IEnumerable)backend.GetType().GetMethod("Slots", BindingFlags.NonPublic | BindingFlags.Instance)!.Invoke(backend, null)!;
    int count = 0, patched = 0, moved = 0;
    foreach (ITuple slot in slots)
    {
        // (Library, Symbol, Got, Original, Patched)
        count++;
        patched += (bool)slot[4]! ? 1 : 0;
        moved += Marshal.ReadIntPtr((nint)slot[2]!) != (nint)slot[3]! ? 1 : 0;
    }

    return $"hooks {count} slots, {patched} patched, {moved} not at their original target";
}

[DllImport("libc", SetLastError = true)]
static extern int setsid();
