using System.Text;
using Microsoft.Data.Sqlite;

namespace WebDemo;

/// <summary>The demo's request handlers: each makes the IO calls that its strategy's table shows.</summary>
internal sealed class DemoEndpoints(IHttpClientFactory httpClients, string dataDirectory, string workDirectory)
{
    /// <summary>The page the app serves itself on loopback, standing in for the seed's www.wildfireapp.com.</summary>
    public static readonly string UpstreamPage = BuildUpstreamPage();

    private string MotdPath => Path.Combine(dataDirectory, "motd.txt");

    /// <summary>The seed's app: fetch a page over HTTP and return it; here it also reads a file and writes one.</summary>
    public async Task<IResult> IndexAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var page = await httpClients.CreateClient().GetStringAsync(UpstreamUri(context), cancellationToken);
        var motd = await File.ReadAllTextAsync(MotdPath, cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(workDirectory, "last-page.html"), page, cancellationToken);
        return Results.Text($"{motd}\nFetched {page.Length} characters from the upstream page and saved them.\n");
    }

    /// <summary>Shows the Read strategy: a file read and the socket reads of an HTTP response.</summary>
    public async Task ReadAsync(HttpContext context)
    {
        var motd = await File.ReadAllTextAsync(MotdPath, context.RequestAborted);
        var page = await httpClients.CreateClient().GetStringAsync(UpstreamUri(context), context.RequestAborted);
        await context.Response.WriteAsync($"Read {motd.Length} characters from a file and {page.Length} from the upstream page.\n", context.RequestAborted);
    }

    /// <summary>Shows the Setup strategy: stat, open and close calls, and the socket and connect of an HTTP call.</summary>
    public async Task SetupAsync(HttpContext context)
    {
        var files = Directory.GetFiles(dataDirectory).Select(f => new FileInfo(f)).Sum(f => f.Length);
        await using (File.OpenRead(MotdPath))
        {
        }

        using var response = await httpClients.CreateClient().GetAsync(UpstreamUri(context), context.RequestAborted);
        await context.Response.WriteAsync($"{files} bytes in data/; the upstream answered {(int)response.StatusCode}.\n", context.RequestAborted);
    }

    /// <summary>Shows the All strategy: everything the seed's app does, with setup, reads and writes together.</summary>
    public async Task AllAsync(HttpContext context)
    {
        var result = await IndexAsync(context, context.RequestAborted);
        await result.ExecuteAsync(context);
    }

    private string VisitsConnectionString => $"Data Source={Path.Combine(workDirectory, "visits.db")}";

    /// <summary>Creates the visits table at startup, as an app's migrations would (untraced: no request runs yet).</summary>
    public void CreateVisitsTable()
    {
        using var connection = new SqliteConnection(VisitsConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, path TEXT NOT NULL, at TEXT NOT NULL);";
        command.ExecuteNonQuery();
    }

    /// <summary>A SQLite query: the database file's IO, made by the native e_sqlite3 library, is traced too.</summary>
    public async Task SqliteAsync(HttpContext context)
    {
        await using var connection = new SqliteConnection(VisitsConnectionString);
        await connection.OpenAsync(context.RequestAborted);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO visits (path, at) VALUES ($path, datetime('now'));
            SELECT COUNT(*) FROM visits;
            """;
        command.Parameters.AddWithValue("$path", context.Request.Path.Value);
        var visits = (long)(await command.ExecuteScalarAsync(context.RequestAborted))!;
        await context.Response.WriteAsync($"{visits} visits recorded in visits.db.\n", context.RequestAborted);
    }

    /// <summary>The upstream page; excluded from tracing in appsettings.json, and it closes its connection as the seed's server did.</summary>
    public static IResult Upstream(HttpContext context)
    {
        context.Response.Headers.Connection = "close";
        return Results.Content(UpstreamPage, "text/html");
    }

    private static Uri UpstreamUri(HttpContext context) => new($"{context.Request.Scheme}://{context.Request.Host}/upstream");

    private static string BuildUpstreamPage()
    {
        var page = new StringBuilder("<!DOCTYPE html>\n<html><head><title>Upstream</title></head><body>\n");
        for (var i = 1; i <= 64; i++)
        {
            page.Append("<p>Paragraph ").Append(i).Append(" of the page an upstream server returns to the traced request.</p>\n");
        }

        return page.Append("</body></html>\n").ToString();
    }
}
