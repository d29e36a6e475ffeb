namespace IoTrace.AspNetCore;

/// <summary>
/// Options of the page that shows the last traced requests (<c>services.AddIoTracePage()</c>,
/// <c>app.MapIoTracePage()</c>). By default the page answers only in the Development environment, and only to
/// connections from the machine itself.
/// </summary>
public sealed class IoTracePageOptions
{
    /// <summary>How many of the last traced requests the page keeps (their reports, in memory). Defaults to 100.</summary>
    public int Capacity { get; set; } = 100;

    /// <summary>Whether the page answers outside the Development environment. Defaults to <see langword="false"/>: 404 there.</summary>
    public bool AllowOutsideDevelopment { get; set; }

    /// <summary>Whether the page answers connections from other machines. Defaults to <see langword="false"/>: 403 to them.</summary>
    public bool AllowRemote { get; set; }
}
