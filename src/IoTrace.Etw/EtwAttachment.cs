using IoTrace.Etw.Session;
using IoTrace.Etw.Translation;
using IoTrace.Symbols.Managed;

namespace IoTrace.Etw;

/// <summary>One attach of the ETW backend: the session, the code map, the timeline's publication, the translator.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("windows")]
internal sealed class EtwAttachment(EtwSession session, ManagedCodeMap map, IDisposable publishing, EtwTranslator translator) : IDisposable
{
    public EtwSession Session { get; } = session;

    public ManagedCodeMap Map { get; } = map;

    public EtwTranslator Translator { get; } = translator;

    public void Dispose()
    {
        publishing.Dispose();
        Session.Dispose();
        Map.Dispose();
    }
}
