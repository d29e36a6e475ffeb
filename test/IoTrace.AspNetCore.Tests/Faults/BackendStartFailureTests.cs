using System.Runtime.Versioning;
using IoTrace.AspNetCore.Logging;
using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Backends.InProcess;
using Microsoft.Extensions.Options;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Faults;

/// <summary>
/// The in-process backend's hooks cannot install. With <c>Backend = Auto</c> the app starts, serves every request
/// unchanged and says so once; with the backend named it does not start. Both switch the process's hooks off, so they
/// run alone.
/// </summary>
[Collection(typeof(ProcessWideTracing))]
[SupportedOSPlatform("linux")]
public sealed class BackendStartFailureTests
{
    private const string Fault = "simulated: no GOT slot could be rebound";

    [Fact]
    public async Task UseIoTrace_BackendInstallFails_ServesEveryRequestUnchangedWarnsOnceAndReportsIncomplete()
    {
        Requires.Linux();
        var sizes = Enumerable.Range(35_001, 8).ToArray();
        foreach (var size in sizes)
        {
            TestFiles.Create(size);
        }

        await using var app = new TestApp { Settings = { ["IoTrace:Strategy"] = "All" } }.UseLoopbackKestrel();
        string[] bodies;

        // Switched off, so the next trace installs the hooks again: that install fails.
        IoTracer.Disable();
        InProcessBackend.InstallFaultForTests = Fault;
        try
        {
            using var client = app.CreateHttpClient();
            bodies = await Task.WhenAll(sizes.Select(size => client.GetTextAsync($"/files/{size}")));
            await app.Logs.WaitForReportsAsync(sizes.Length);
        }
        finally
        {
            InProcessBackend.InstallFaultForTests = null;
            IoTracer.Disable();
        }

        // One warning from the core, through the logging the middleware gave it, however many requests ran.
        var warning = Assert.Single(app.Logs.Collector.GetSnapshot(), r => r.Level >= LogLevel.Warning && r.Category!.StartsWith("IoTrace", StringComparison.Ordinal));
        Assert.Equal(("IoTrace", 3, "BackendInstallFailed"), (warning.Category, warning.Id.Id, warning.Id.Name));
        Assert.Equal($"IO tracing could not install the inprocess backend: {Fault}. Reports are empty and marked incomplete.", warning.Message);

        // Each report is there, empty and marked incomplete; each response is what a traced one is (below).
        Assert.Equal(sizes.Length, app.Logs.Reports.Count);
        Assert.All(app.Logs.Reports.Select(r => r.Fields()), fields =>
        {
            Assert.Equal((200, 0L, "False"), (fields.StatusCode, fields.Calls, fields[IoTraceRequestLog.IsCompleteKey]));
            Assert.Empty(fields.Aggregates);
        });

        // Once the hooks install, the same app traces its next request exactly.
        using var recovered = app.CreateHttpClient();
        var next = await recovered.GetTextAsync($"/files/{sizes[0]}");
        await app.Logs.WaitForReportsAsync(sizes.Length + 1);
        var report = app.Logs.Reports[^1].Fields();
        Assert.Null(FileReadReports.Mismatch(app, sizes[0], next, report));
        var line = TestRequests.LineIn(next);
        Assert.All(sizes.Zip(bodies), request => Assert.Equal($"{request.First} {line}", string.Join(' ', request.Second.Split(' ')[..2])));
    }

    [Fact]
    public async Task UseIoTrace_ExplicitInProcessBackendWhoseHooksCannotInstall_StartupFailsWithTheReason()
    {
        IoTracer.Disable();
        InProcessBackend.InstallFaultForTests = "simulated: no slot could be rebound";
        try
        {
            await using var app = new TestApp { Settings = { ["IoTrace:Backend"] = "InProcess" } }.UseLoopbackKestrel();

            var exception = Assert.Throws<OptionsValidationException>(() => app.CreateHttpClient());

            Assert.Equal(
                ["IoTrace:Backend: the InProcess backend cannot run in this process: simulated: no slot could be rebound. Allowed values: Auto, InProcess, Ebpf, DTrace, Etw; Auto turns tracing off where no backend runs."],
                exception.Failures);
        }
        finally
        {
            InProcessBackend.InstallFaultForTests = null;
            IoTracer.Disable();
        }

        Assert.True(IoTracer.TryEnable(out var reason), reason);
    }
}
