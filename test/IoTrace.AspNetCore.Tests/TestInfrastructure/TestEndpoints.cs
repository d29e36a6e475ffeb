using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace IoTrace.AspNetCore.Tests.TestInfrastructure;

/// <summary>
/// The test app's endpoints. Each IO call shares its source line with a <see cref="Line"/> call, so an endpoint can
/// tell the test which line its report must name.
/// </summary>
internal static class TestEndpoints
{
    public const string FileRoute = "/files/{size:int}";

    public static string SourceFile { get; } = ThisFile();

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        // Body: "<bytes read> <line> <trace id> <span id>".
        endpoints.MapGet(FileRoute, async (int size, CancellationToken cancellationToken) =>
        {
            var (content, line) = (await File.ReadAllBytesAsync(TestFiles.PathOf(size), cancellationToken), Line());
            return Results.Text($"{content.Length} {line} {Activity.Current?.TraceId} {Activity.Current?.SpanId}");
        });

        endpoints.MapGet(FileRoute + "/missing", async (int size, CancellationToken cancellationToken) =>
        {
            var (content, line) = (await File.ReadAllBytesAsync(TestFiles.PathOf(size), cancellationToken), Line());
            return Results.Text($"{content.Length} {line}", statusCode: StatusCodes.Status404NotFound);
        });

        endpoints.MapGet(FileRoute + "/throw", async (int size, CancellationToken cancellationToken) =>
        {
            var content = await File.ReadAllBytesAsync(TestFiles.PathOf(size), cancellationToken);
            throw new InvalidOperationException($"The endpoint failed after reading {content.Length} bytes.");
        });

        // The same read, traced with the endpoint's own strategy: by convention, and by attribute.
        endpoints.MapGet(FileRoute + "/setup", async (int size, CancellationToken cancellationToken) =>
            (await File.ReadAllBytesAsync(TestFiles.PathOf(size), cancellationToken)).Length).WithIoTrace(Strategy.Setup);
        endpoints.MapGet(FileRoute + "/writes", [IoTrace(Strategy.Write)] async (int size, CancellationToken cancellationToken) =>
            (await File.ReadAllBytesAsync(TestFiles.PathOf(size), cancellationToken)).Length);

        // The same read, with a byte budget of its own.
        endpoints.MapGet(FileRoute + "/budgeted", [IoTrace(ByteBudget = 100)] async (int size, CancellationToken cancellationToken) =>
        {
            var (content, line) = (await File.ReadAllBytesAsync(TestFiles.PathOf(size), cancellationToken), Line());
            return Results.Text($"{content.Length} {line}");
        });

        // Opens the same file four times.
        endpoints.MapGet(FileRoute + "/four-times", async (int size, CancellationToken cancellationToken) =>
        {
            var total = 0;
            for (var i = 0; i < 4; i++)
            {
                total += (await File.ReadAllBytesAsync(TestFiles.PathOf(size), cancellationToken)).Length;
            }

            return Results.Text($"{total}");
        });

        // Sends the headers first, then reads the file: its IO comes after the headers went out.
        endpoints.MapGet(FileRoute + "/after-headers", async (int size, HttpContext context) =>
        {
            await context.Response.StartAsync(context.RequestAborted);
            var content = await File.ReadAllBytesAsync(TestFiles.PathOf(size), context.RequestAborted);
            await context.Response.WriteAsync($"{content.Length}", context.RequestAborted);
        });

        endpoints.MapGet("/health", () => "healthy");

        // Reads the request body and writes it back: only Kestrel's transport touches a socket.
        endpoints.MapPost("/echo", async (HttpContext context) =>
        {
            context.Response.ContentType = "application/octet-stream";
            await context.Request.Body.CopyToAsync(context.Response.Body, context.RequestAborted);
        });

        endpoints.MapGet("/upstream/{port:int}", async (int port, CancellationToken cancellationToken) =>
        {
            using var client = new HttpClient();
            return Results.Text(await client.GetStringAsync(new Uri($"http://127.0.0.1:{port}/page"), cancellationToken));
        });
    }

    private static int Line([CallerLineNumber] int line = 0) => line;

    private static string ThisFile([CallerFilePath] string path = "") => path;
}
