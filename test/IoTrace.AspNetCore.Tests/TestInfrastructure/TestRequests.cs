using Xunit;

namespace IoTrace.AspNetCore.Tests.TestInfrastructure;

/// <summary>Requests to the test app, cancelled with the test.</summary>
internal static class TestRequests
{
    public static Task<string> GetTextAsync(this HttpClient client, string path) =>
        client.GetStringAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);

    public static Task<HttpResponseMessage> GetResponseAsync(this HttpClient client, string path) =>
        client.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);

    /// <summary>The line an endpoint reported: the second word of its body.</summary>
    public static int LineIn(string body) => int.Parse(body.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A report's message with runs of spaces collapsed, so rows compare without column padding.</summary>
    public static string[] Rows(string message) =>
        [.. message.Split('\n').Select(row => string.Join(' ', row.Split(' ', StringSplitOptions.RemoveEmptyEntries)))];

    /// <summary>Writes an appsettings.json holding an IoTrace section.</summary>
    public static void WriteSettings(string path, string ioTraceSection) =>
        File.WriteAllText(path, $$"""{ "IoTrace": {{ioTraceSection}} }""");
}
