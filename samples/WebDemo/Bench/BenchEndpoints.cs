namespace WebDemo.Bench;

/// <summary>The benchmark's endpoints: one that does a typical request's IO, one that does none.</summary>
internal sealed class BenchEndpoints(IHttpClientFactory httpClients, string motdPath)
{
    public const string UpstreamPath = "/bench/upstream";

    public const string JittedPath = "/bench/jitted";

    /// <summary><c>/bench/io</c>: a file read and an HTTP call to the loopback upstream, on a pooled connection.</summary>
    public async Task<IResult> IoAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var motd = await File.ReadAllTextAsync(motdPath, cancellationToken);
        var upstream = new Uri($"{context.Request.Scheme}://{context.Request.Host}{UpstreamPath}");
        var page = await httpClients.CreateClient().GetStringAsync(upstream, cancellationToken);
        return Results.Text($"Read {motd.Length} characters from a file and {page.Length} from the upstream page.\n");
    }

    /// <summary><c>/bench/trivial</c>: no IO, so the middleware's fixed cost per request shows.</summary>
    public static IResult Trivial() => Results.Text("ok\n");

    /// <summary>The upstream page. Unlike the demo's <c>/upstream</c> it keeps the connection open, as a real service would.</summary>
    public static Task UpstreamAsync(HttpContext context)
    {
        context.Response.ContentType = "text/html";
        return context.Response.WriteAsync(DemoEndpoints.UpstreamPage, context.RequestAborted);
    }

    /// <summary><c>/bench/jitted</c>: the methods the JIT has compiled so far, tier-ups included, as plain text.</summary>
    public static Task Jitted(HttpContext context) =>
        context.Response.WriteAsync(System.Runtime.JitInfo.GetCompiledMethodCount().ToString(System.Globalization.CultureInfo.InvariantCulture));
}
