namespace IoTrace.Tests.TestSupport;

internal static class ReportAssertions
{
    private static readonly HashSet<string> s_readProbes = ["read", "pread64", "readv", "preadv", "preadv2", "recvfrom", "recvmsg"];
    private static readonly HashSet<string> s_writeProbes = ["write", "pwrite64", "writev", "pwritev", "pwritev2", "sendto", "sendmsg", "sendfile"];

    public static IEnumerable<IoAggregate> For(this IoTraceReport report, string target) =>
        report.Aggregates.Where(a => a.Target == target);

    public static long BytesRead(this IEnumerable<IoAggregate> aggregates) =>
        aggregates.Where(a => s_readProbes.Contains(a.Probe)).Sum(a => a.Bytes);

    public static long BytesWritten(this IEnumerable<IoAggregate> aggregates) =>
        aggregates.Where(a => s_writeProbes.Contains(a.Probe)).Sum(a => a.Bytes);

    public static long Calls(this IEnumerable<IoAggregate> aggregates, string probe) =>
        aggregates.Where(a => a.Probe == probe).Sum(a => a.Calls);

    public static long Bytes(this IEnumerable<IoAggregate> aggregates, string probe) =>
        aggregates.Where(a => a.Probe == probe).Sum(a => a.Bytes);
}
