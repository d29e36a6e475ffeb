namespace IoTrace.Backends;

/// <summary>
/// Where every backend reports what went wrong inside it. The tracer logs each kind once; the traced code and the
/// request go on whatever is reported here.
/// </summary>
internal interface IBackendDiagnostics
{
    /// <summary>The tracer failed to record or attribute a call (a hook, a flush); tracing goes on.</summary>
    void TracerFailed(Exception exception);

    /// <summary>The backend could not get ready (hooks not installed); its traces report incomplete.</summary>
    void StartFailed(string backend, string reason);

    /// <summary>The backend stopped working (its kernel program died); later traces fall back where they can.</summary>
    void BackendFailed(string backend, string reason);

    /// <summary>The backend lost calls but goes on; the traces involved report incomplete.</summary>
    void CallsLost(string backend, string reason);
}
