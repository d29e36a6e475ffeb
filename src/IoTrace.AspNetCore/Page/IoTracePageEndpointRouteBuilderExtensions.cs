using System.Net;
using IoTrace.AspNetCore;
using IoTrace.AspNetCore.Page;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the page of the last traced requests.</summary>
public static class IoTracePageEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Serves the last traced requests (<c>services.AddIoTracePage()</c> keeps them) as one self-contained HTML page at
    /// <paramref name="pattern"/>: per request its lines, with bars for time and bytes, filtered by route and strategy.
    /// It shows what the log shows, redaction applied. By default it answers only in the Development environment (404
    /// elsewhere) and only to connections from the machine itself (403 to others): see <see cref="IoTracePageOptions"/>.
    /// </summary>
    /// <param name="endpoints">The app's endpoints.</param>
    /// <param name="pattern">Where the page is. Defaults to <c>/iotrace</c>.</param>
    /// <returns>The page's endpoint, for its conventions (authorization, say).</returns>
    /// <exception cref="InvalidOperationException"><c>AddIoTracePage()</c> was not called.</exception>
    public static IEndpointConventionBuilder MapIoTracePage(this IEndpointRouteBuilder endpoints, string pattern = "/iotrace")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        var services = endpoints.ServiceProvider;
        var recent = services.GetService<RecentRequests>()
            ?? throw new InvalidOperationException("Unable to find the page's services. Call 'builder.Services.AddIoTracePage()' before 'app.MapIoTracePage()'.");
        var options = services.GetRequiredService<IOptions<IoTracePageOptions>>().Value;
        var environment = services.GetService<IHostEnvironment>();
        return endpoints.MapGet(pattern, (HttpContext context) =>
        {
            if (!options.AllowOutsideDevelopment && environment?.IsDevelopment() != true)
            {
                return Results.NotFound();
            }

            if (!options.AllowRemote && !IsLocal(context))
            {
                return Results.StatusCode(StatusCodes.Status403Forbidden);
            }

            // The page's own requests are not on it.
            var requests = recent.Newest().Where(r => r.Request.Route != pattern).ToArray();
            return Results.Content(ReportsPage.Render(requests), "text/html; charset=utf-8");
        });
    }

    /// <summary>A connection from the machine itself; in-memory test servers have no remote address and count as local.</summary>
    private static bool IsLocal(HttpContext context) =>
        context.Connection.RemoteIpAddress is not { } remote || IPAddress.IsLoopback(remote);
}
