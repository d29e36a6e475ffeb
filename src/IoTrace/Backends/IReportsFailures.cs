namespace IoTrace.Backends;

/// <summary>A backend from another assembly that reports its failures through the tracer's log (once each).</summary>
internal interface IReportsFailures
{
    /// <summary>
    /// Hands the backend the tracer's failure sinks: exceptions in the tracer; a backend that stopped working
    /// (name, reason); a backend that lost calls but goes on (name, reason).
    /// </summary>
    void Wire(Action<Exception> failure, Action<string, string> backendFailed, Action<string, string> callsLost);
}
