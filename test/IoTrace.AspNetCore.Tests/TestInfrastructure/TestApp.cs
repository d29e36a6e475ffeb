using System.Net;
using IoTrace.Backends;
using IoTrace.Tracing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging.Testing;

namespace IoTrace.AspNetCore.Tests.TestInfrastructure;

/// <summary>
/// The test app (<see cref="TestEndpoints"/> behind the IoTrace middleware) hosted by WebApplicationFactory: on
/// TestServer, or on a real Kestrel bound to 127.0.0.1 on a free port after <see cref="UseLoopbackKestrel"/>.
/// Its configuration holds only what the test gives it, and its logs go to <see cref="Logs"/>.
/// </summary>
internal sealed class TestApp : WebApplicationFactory<TestApp>
{
    private readonly Dictionary<string, string?> _settings = new(StringComparer.OrdinalIgnoreCase);
    private bool _kestrel;

    public TestLogs Logs { get; } = new();

    /// <summary>Gets the app's configuration too. Defaults to <c>AddIoTrace()</c>.</summary>
    public Action<IServiceCollection, IConfiguration> AddServices { get; init; } = (services, _) => services.AddIoTrace();

    /// <summary>Defaults to <c>UseIoTrace()</c>, placed between routing and the endpoints.</summary>
    public Action<IApplicationBuilder> UsePipeline { get; init; } = app => app.UseIoTrace();

    /// <summary>Endpoints besides <see cref="TestEndpoints"/>.</summary>
    public Action<IEndpointRouteBuilder>? MapEndpoints { get; init; }

    /// <summary>An appsettings.json file to load.</summary>
    public string? JsonFile { get; init; }

    /// <summary>Whether <see cref="JsonFile"/> is reloaded when it changes on disk. Defaults to <see langword="true"/>.</summary>
    public bool ReloadOnChange { get; init; } = true;

    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    /// <summary>The host's environment. Defaults to Development, as WebApplicationFactory's.</summary>
    public string Environment { get; init; } = Environments.Development;

    /// <summary>The backend the app's tracer uses, whatever the process could run; null: the one it chooses.</summary>
    public IIoTraceBackend? Backend { get; init; }

    /// <summary>The in-memory configuration, for example <c>["IoTrace:Strategy"] = "Read"</c>.</summary>
    public IDictionary<string, string?> Settings => _settings;

    public IConfigurationRoot Configuration => (IConfigurationRoot)Services.GetRequiredService<IConfiguration>();

    public string ContentRoot => Services.GetRequiredService<IHostEnvironment>().ContentRootPath;

    /// <summary>Serves on a real Kestrel at 127.0.0.1, port 0.</summary>
    public TestApp UseLoopbackKestrel()
    {
        _kestrel = true;
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        return this;
    }

    /// <summary>A real HttpClient to Kestrel (after <see cref="UseLoopbackKestrel"/>), or TestServer's client.</summary>
    public HttpClient CreateHttpClient()
    {
        if (!_kestrel)
        {
            return CreateClient();
        }

        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new HttpClient { BaseAddress = new Uri(address) };
    }

    // WebApplicationFactory looks for a content root next to the solution; the test app's is this project.
    protected override void ConfigureWebHost(IWebHostBuilder builder) => builder.UseContentRoot(TestFiles.ProjectDirectory).UseEnvironment(Environment);

    protected override IHostBuilder CreateHostBuilder() => new HostBuilder()
        .ConfigureAppConfiguration(configuration =>
        {
            configuration.AddInMemoryCollection(_settings);
            if (JsonFile is not null)
            {
                configuration.AddJsonFile(JsonFile, optional: false, ReloadOnChange);
            }
        })
        .ConfigureLogging(logging =>
        {
            logging.AddProvider(new FakeLoggerProvider(Logs.Collector));
            ConfigureLogging?.Invoke(logging);
        })
        .ConfigureWebHost(web => web
            .ConfigureServices((context, services) =>
            {
                services.AddRouting();
                if (Backend is { } backend)
                {
                    services.AddSingleton(sp => new Tracer(backend, sp.GetRequiredService<ILoggerFactory>()));
                }

                AddServices(services, context.Configuration);
            })
            .Configure(app =>
            {
                app.UseRouting();
                UsePipeline(app);
                app.UseEndpoints(endpoints =>
                {
                    TestEndpoints.Map(endpoints);
                    MapEndpoints?.Invoke(endpoints);
                });
            }));
}
