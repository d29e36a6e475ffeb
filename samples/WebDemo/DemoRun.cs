namespace WebDemo;

/// <summary>
/// <c>--demo</c>: calls each endpoint once, so their IO tables appear in the console, then lets the app exit.
/// Each call waits for the server's "Request finished" log event, so the tables print in request order.
/// </summary>
internal static class DemoRun
{
    public static readonly string[] Paths = ["/", "/read", "/setup", "/all", "/sqlite"];

    public static async Task<bool> RunAsync(Uri address, RequestFinishedSignal finished, ILogger logger)
    {
        using var client = new HttpClient { BaseAddress = address };
        var ok = true;
        foreach (var path in Paths)
        {
            var done = finished.WaitFor(path);
            using var response = await client.GetAsync(path);
            await done.WaitAsync(TimeSpan.FromSeconds(30));
            ok &= response.IsSuccessStatusCode;
        }

        DemoLog.DemoFinished(logger, Paths.Length, ok ? "all succeeded" : "some failed");
        return ok;
    }
}
