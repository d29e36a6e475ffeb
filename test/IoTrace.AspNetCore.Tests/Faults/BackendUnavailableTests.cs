using IoTrace.AspNetCore.Tests.TestInfrastructure;
using IoTrace.Backends.Unavailable;
using Microsoft.Extensions.Options;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Faults;

/// <summary>
/// No backend can run, as the app's tracer sees it (its own backend, so these run beside the other tests): with
/// <c>Backend = Auto</c> the app serves unchanged and traces nothing; with a backend named it does not start.
/// </summary>
public sealed class BackendUnavailableTests
{
    [Fact]
    public async Task UseIoTrace_ExplicitInProcessBackendWhereNoneRuns_StartupFailsNamingTheKey()
    {
        await using var app = new TestApp
        {
            Backend = new UnavailableBackend("simulated: libIoTrace.Native.so was not found"),
            Settings = { ["IoTrace:Backend"] = "InProcess" },
        }.UseLoopbackKestrel();

        var exception = Assert.Throws<OptionsValidationException>(() => app.CreateHttpClient());

        Assert.Equal(
            ["IoTrace:Backend: the InProcess backend cannot run in this process: simulated: libIoTrace.Native.so was not found. Allowed values: Auto, InProcess, Ebpf, DTrace, Etw; Auto turns tracing off where no backend runs."],
            exception.Failures);
    }

    [Fact]
    public async Task UseIoTrace_AutoBackendWhereNoneRuns_ServesUnchangedAndTracesNothing()
    {
        TestFiles.Create(35_100);
        await using var app = new TestApp
        {
            Backend = new UnavailableBackend("simulated: libIoTrace.Native.so was not found"),
            Settings = { ["IoTrace:Strategy"] = "All" },
        }.UseLoopbackKestrel();
        using var client = app.CreateHttpClient();

        var body = await client.GetTextAsync("/files/35100");
        await app.DisposeAsync();

        // Stopped, so every request has completed: none was traced.
        Assert.StartsWith("35100 ", body, StringComparison.Ordinal);
        Assert.Empty(app.Logs.Reports);
    }
}
