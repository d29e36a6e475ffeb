using Xunit;

namespace IoTrace.AspNetCore.Tests.Soak;

/// <summary>
/// The soak and allocation tests read process-wide state (the tracer's tables, the shim's counter) and count
/// allocations: they run alone, after the parallel tests.
/// </summary>
[CollectionDefinition(DisableParallelization = true)]
public sealed class ProcessWideSoak;
