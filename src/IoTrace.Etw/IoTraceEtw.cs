namespace IoTrace.Etw;

/// <summary>
/// The ETW backend (Windows, an elevated process): a real-time kernel event session reports the file operations of
/// traced threads, with their stacks. Register it with <c>services.AddIoTrace().AddEtwBackend()</c>, or
/// <c>IoTracer.AddBackend(IoTraceEtw.Backend)</c> for the block API; <c>auto</c> then prefers it where it can run.
/// Tested on Linux against built event sequences only; on Windows by the repository's Windows workflow.
/// </summary>
public static class IoTraceEtw
{
    /// <summary>The ETW backend's provider, named <c>etw</c>.</summary>
    public static IoTraceBackendProvider Backend { get; } = new(Name, Create);

    /// <summary>The backend's name in reports and configuration.</summary>
    internal const string Name = "etw";

    private static EtwBackend? Create(out string reason)
    {
        if (!OperatingSystem.IsWindows())
        {
            reason = "the ETW backend runs on Windows";
            return null;
        }

        return EtwBackend.TryCreate(out reason);
    }
}
