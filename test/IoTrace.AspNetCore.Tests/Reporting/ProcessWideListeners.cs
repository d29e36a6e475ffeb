using System.Diagnostics;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Reporting;

/// <summary>
/// Tests whose listeners (OpenTelemetry's, an <see cref="ActivityListener"/>) see the whole process: they run alone, after
/// the parallel tests, so they neither see other tests' apps nor make those apps record activities.
/// </summary>
[CollectionDefinition(DisableParallelization = true)]
public sealed class ProcessWideListeners;
