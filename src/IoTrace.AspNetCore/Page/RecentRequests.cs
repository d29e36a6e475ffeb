using IoTrace.AspNetCore.Reporting;

namespace IoTrace.AspNetCore.Page;

/// <summary>The last traced requests, for the page: a ring of at most <see cref="IoTracePageOptions.Capacity"/>, oldest dropped.</summary>
internal sealed class RecentRequests(int capacity, TimeProvider time) : ITracedRequestObserver
{
    private readonly Lock _lock = new();
    private readonly Queue<(DateTimeOffset At, TracedRequest Request)> _requests = new();

    public void OnTraced(in TracedRequest request)
    {
        lock (_lock)
        {
            // Only what the page shows: not the request's activity, which would keep its span's tags alive.
            _requests.Enqueue((time.GetUtcNow(), request with { Activity = null }));
            while (_requests.Count > capacity)
            {
                _requests.Dequeue();
            }
        }
    }

    /// <summary>The requests kept, newest first.</summary>
    public (DateTimeOffset At, TracedRequest Request)[] Newest()
    {
        lock (_lock)
        {
            return [.. _requests.Reverse()];
        }
    }
}
