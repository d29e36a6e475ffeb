namespace IoTrace.Backends;

/// <summary>A backend from another assembly that reports its failures through the tracer's log (once each).</summary>
internal interface IReportsFailures
{
    /// <summary>
    /// Hands the backend the tracer's failure sinks: one for exceptions in the tracer, one for a backend that stopped
    /// working (name, reason).
    /// </summary>
    void Wire(Action<Exception> failure, Action<string, string> backendFailed);
}
