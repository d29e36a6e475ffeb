using Xunit;

namespace IoTrace.AspNetCore.Tests.Faults;

/// <summary>
/// Tests that switch tracing off for the process, inject faults into the backend, or read its process-wide counters:
/// they run alone, after the parallel tests, so no other test's traces see (or skew) them.
/// </summary>
[CollectionDefinition(DisableParallelization = true)]
public sealed class ProcessWideTracing;
