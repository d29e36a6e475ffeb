namespace IoTrace.AspNetCore.Reporting;

/// <summary>
/// Hears every request the middleware traced, once its report is whole, whatever the log's thresholds: a test's
/// collector, the meter. Called on the thread that completes the report; must be quick and must not throw (a failure
/// is logged once and the others still hear it).
/// </summary>
internal interface ITracedRequestObserver
{
    void OnTraced(in TracedRequest request);
}
