using System.Collections.Frozen;
using IoTrace.Probes;

namespace IoTrace.Etw.Session;

/// <summary>
/// The Microsoft-Windows-Winsock-AFD events the backend reads (keyword <c>AFD_KW_SOURCE_WINSOCK</c>): each request is
/// one event id, logged with <c>EnterExit</c> 0 when it starts (on the caller's thread) and 1 when it completes.
/// </summary>
internal static class AfdEvents
{
    public static readonly Guid Provider = new("e53c6823-7bb8-44bb-90dc-3f86090d48a6");

    /// <summary>AFD_KW_SOURCE_WINSOCK: the requests Winsock makes of the driver.</summary>
    public const ulong WinsockKeyword = 0x4;

    public const int Enter = 0;
    public const int Exit = 1;

    /// <summary>Event id -> probe, from the provider's manifest (Windows 10 and later).</summary>
    public static readonly FrozenDictionary<int, int> Probes = new Dictionary<int, string>
    {
        [1000] = "AFD/Create",
        [1001] = "AFD/Close",
        [1003] = "AFD/Send",
        [1004] = "AFD/Receive",
        [1005] = "AFD/SendTo",
        [1006] = "AFD/ReceiveFrom",
        [1007] = "AFD/SendTo",
        [1009] = "AFD/ReceiveFrom",
        [1011] = "AFD/SendMessage",
        [1012] = "AFD/ReceiveMessage",
        [1013] = "AFD/SendMessage",
        [1015] = "AFD/ReceiveMessage",
        [1017] = "AFD/Connect",
        [1018] = "AFD/Connect",
        [1020] = "AFD/Connect",
        [1021] = "AFD/Connect",
        [1023] = "AFD/Accept",
        [1024] = "AFD/Accept",
        [1026] = "AFD/Accept",
        [1027] = "AFD/Accept",
        [1029] = "AFD/Bind",
        [1030] = "AFD/Bind",
    }.ToFrozenDictionary(static e => e.Key, static e => ProbeCatalog.IndexOf(e.Value));
}
