namespace IoTrace.AspNetCore;

/// <summary>
/// Registered by <c>AddIoTrace</c>: lets <c>UseIoTrace</c> say what is missing, and records whether an explicit
/// configuration section replaced the default <c>IoTrace</c> one.
/// </summary>
internal sealed class IoTraceMarkerService
{
    public bool BindsDefaultSection { get; set; }

    public bool HasExplicitSection { get; set; }
}
