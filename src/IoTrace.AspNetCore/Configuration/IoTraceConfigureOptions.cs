using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace IoTrace.AspNetCore.Configuration;

/// <summary>
/// Binds <see cref="IoTraceOptions"/> from a configuration section and tells the options monitor when it changes.
/// A <see langword="null"/> section binds nothing (no configuration, or another section replaced the default one).
/// </summary>
internal sealed class IoTraceConfigureOptions(IConfiguration? section) : IConfigureOptions<IoTraceOptions>, IOptionsChangeTokenSource<IoTraceOptions>
{
    public string Name => Options.DefaultName;

    public void Configure(IoTraceOptions options)
    {
        if (section is not null)
        {
            IoTraceConfigurationBinder.Bind(section, options);
        }
    }

    public IChangeToken GetChangeToken() => section?.GetReloadToken() ?? NullChangeToken.Singleton;
}
