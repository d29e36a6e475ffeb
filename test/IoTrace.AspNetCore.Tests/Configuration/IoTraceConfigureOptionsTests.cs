using IoTrace.AspNetCore.Configuration;
using Xunit;

namespace IoTrace.AspNetCore.Tests.Configuration;

public sealed class IoTraceConfigureOptionsTests
{
    [Fact]
    public void Configure_Section_BindsIt()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["IoTrace:Strategy"] = "All" }).Build();
        var options = new IoTraceOptions();

        new IoTraceConfigureOptions(configuration.GetSection("IoTrace")).Configure(options);

        Assert.Equal(Strategy.All, options.Strategy);
    }

    [Fact]
    public void Configure_NoSection_LeavesTheDefaults()
    {
        var options = new IoTraceOptions();

        var configure = new IoTraceConfigureOptions(null);
        configure.Configure(options);

        Assert.Equal((Strategy.Summary, 0), (options.Strategy, options.ConfigurationErrors.Count));
        Assert.False(configure.GetChangeToken().HasChanged);
        Assert.Equal(Microsoft.Extensions.Options.Options.DefaultName, configure.Name);
    }

    [Fact]
    public void GetChangeToken_ConfigurationReloads_Fires()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection().Build();
        var token = new IoTraceConfigureOptions(configuration.GetSection("IoTrace")).GetChangeToken();

        configuration.Reload();

        Assert.True(token.HasChanged);
    }
}
