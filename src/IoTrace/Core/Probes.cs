namespace IoTrace.Core;

/// <summary>The probes (Linux syscall names as strace prints them) and which strategy records which.</summary>
internal static class Probes
{
    private static readonly (string Name, ProbeKind Kind)[] s_all =
    [
        ("read", ProbeKind.Read),
        ("pread64", ProbeKind.Read),
        ("readv", ProbeKind.Read),
        ("preadv", ProbeKind.Read),
        ("preadv2", ProbeKind.Read),
        ("recvfrom", ProbeKind.Read),
        ("recvmsg", ProbeKind.Read),
        ("write", ProbeKind.Write),
        ("pwrite64", ProbeKind.Write),
        ("writev", ProbeKind.Write),
        ("pwritev", ProbeKind.Write),
        ("pwritev2", ProbeKind.Write),
        ("sendto", ProbeKind.Write),
        ("sendmsg", ProbeKind.Write),
        ("sendfile", ProbeKind.Write),
        ("openat", ProbeKind.Setup),
        ("open", ProbeKind.Setup),
        ("close", ProbeKind.Setup),
        ("newfstatat", ProbeKind.Setup),
        ("stat", ProbeKind.Setup),
        ("lstat", ProbeKind.Setup),
        ("fstat", ProbeKind.Setup),
        ("statx", ProbeKind.Setup),
        ("connect", ProbeKind.Setup),
        ("accept", ProbeKind.Setup),
        ("accept4", ProbeKind.Setup),
        ("bind", ProbeKind.Setup),
        ("socket", ProbeKind.Setup),
        ("socketpair", ProbeKind.Setup),
        ("shutdown", ProbeKind.Setup),
        ("getpeername", ProbeKind.Setup),
        ("fcntl", ProbeKind.Setup),
        ("fsync", ProbeKind.Setup),
        ("fdatasync", ProbeKind.Setup),
        ("poll", ProbeKind.Setup),
        ("select", ProbeKind.Setup),
    ];

    public static int Count => s_all.Length;

    public static string Name(int probe) => s_all[probe].Name;

    public static ProbeKind Kind(int probe) => s_all[probe].Kind;

    public static int IndexOf(string name)
    {
        for (var i = 0; i < s_all.Length; i++)
        {
            if (s_all[i].Name == name)
            {
                return i;
            }
        }

        throw new ArgumentException($"Unknown probe '{name}'.", nameof(name));
    }

    /// <summary>The probe names a strategy records, in catalog order.</summary>
    public static IEnumerable<string> For(Strategy strategy)
    {
        for (var i = 0; i < s_all.Length; i++)
        {
            if (Records(strategy, s_all[i].Kind))
            {
                yield return s_all[i].Name;
            }
        }
    }

    public static bool Records(Strategy strategy, ProbeKind kind) => strategy switch
    {
        Strategy.Summary or Strategy.All => true,
        Strategy.Setup => kind == ProbeKind.Setup,
        Strategy.Read => kind == ProbeKind.Read,
        Strategy.Write => kind == ProbeKind.Write,
        _ => false,
    };
}
