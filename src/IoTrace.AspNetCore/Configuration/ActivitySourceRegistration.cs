namespace IoTrace.AspNetCore.Configuration;

/// <summary>An activity source the app named (<c>AddIoTraceActivitySource</c>), reported from when the middleware is built.</summary>
internal sealed record ActivitySourceRegistration(string Name);
