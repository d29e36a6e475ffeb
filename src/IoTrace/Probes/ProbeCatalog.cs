using System.Collections.Frozen;

namespace IoTrace.Probes;

/// <summary>
/// The probes, with their direction and traits, and which strategy records which: on Linux the system calls as strace
/// prints them (and the few library calls that stand for the system calls they make, where those cannot be seen); on
/// Windows the kernel's file operations and Winsock's socket requests as their ETW events name them
/// (<c>FileIO/Read</c>, <c>AFD/Send</c>, as PerfView shows them). A backend maps what it sees onto these indexes;
/// nothing else declares what a probe means.
/// </summary>
internal static class ProbeCatalog
{
    private static readonly (string Name, ProbeKind Kind, ProbeTraits Traits)[] s_all =
    [
        ("read", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("pread64", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("readv", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("preadv", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("preadv2", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("recvfrom", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("recvmsg", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("write", ProbeKind.Write, ProbeTraits.MovesBytes),
        ("pwrite64", ProbeKind.Write, ProbeTraits.MovesBytes),
        ("writev", ProbeKind.Write, ProbeTraits.MovesBytes),
        ("pwritev", ProbeKind.Write, ProbeTraits.MovesBytes),
        ("pwritev2", ProbeKind.Write, ProbeTraits.MovesBytes),
        ("sendto", ProbeKind.Write, ProbeTraits.MovesBytes),
        ("sendmsg", ProbeKind.Write, ProbeTraits.MovesBytes),
        ("sendfile", ProbeKind.Transfer, ProbeTraits.MovesBytes),
        ("copy_file_range", ProbeKind.Transfer, ProbeTraits.MovesBytes),
        ("splice", ProbeKind.Transfer, ProbeTraits.MovesBytes),
        ("getdents64", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("openat", ProbeKind.Setup, ProbeTraits.OpensFd | ProbeTraits.TakesPath),
        ("open", ProbeKind.Setup, ProbeTraits.OpensFd | ProbeTraits.TakesPath),
        ("close", ProbeKind.Setup, ProbeTraits.ClosesFd),
        ("newfstatat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("stat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("lstat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("fstat", ProbeKind.Setup, ProbeTraits.None),
        ("statx", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("connect", ProbeKind.Setup, ProbeTraits.NamesFd),
        ("accept", ProbeKind.Setup, ProbeTraits.OpensFd),
        ("accept4", ProbeKind.Setup, ProbeTraits.OpensFd),
        ("bind", ProbeKind.Setup, ProbeTraits.None),
        ("socket", ProbeKind.Setup, ProbeTraits.OpensFd),
        ("socketpair", ProbeKind.Setup, ProbeTraits.None),
        ("shutdown", ProbeKind.Setup, ProbeTraits.None),
        ("getpeername", ProbeKind.Setup, ProbeTraits.None),
        ("fcntl", ProbeKind.Setup, ProbeTraits.None),
        ("fsync", ProbeKind.Setup, ProbeTraits.None),
        ("fdatasync", ProbeKind.Setup, ProbeTraits.None),
        ("poll", ProbeKind.Setup, ProbeTraits.None),
        ("select", ProbeKind.Setup, ProbeTraits.None),
        ("listen", ProbeKind.Setup, ProbeTraits.None),
        ("getsockname", ProbeKind.Setup, ProbeTraits.None),
        ("setsockopt", ProbeKind.Setup, ProbeTraits.None),
        ("getsockopt", ProbeKind.Setup, ProbeTraits.None),
        ("ioctl", ProbeKind.Setup, ProbeTraits.None),
        ("lseek", ProbeKind.Setup, ProbeTraits.None),
        ("ftruncate", ProbeKind.Setup, ProbeTraits.None),
        ("fallocate", ProbeKind.Setup, ProbeTraits.None),
        ("fadvise64", ProbeKind.Setup, ProbeTraits.None),
        ("flock", ProbeKind.Setup, ProbeTraits.None),
        ("fchmod", ProbeKind.Setup, ProbeTraits.None),
        ("fstatfs", ProbeKind.Setup, ProbeTraits.None),
        ("statfs", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("access", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("faccessat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("faccessat2", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("chmod", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("fchmodat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("utimensat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("mkdir", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("mkdirat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("rmdir", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("unlink", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("unlinkat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("rename", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("renameat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("renameat2", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("link", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("linkat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("symlink", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("symlinkat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("readlink", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("readlinkat", ProbeKind.Setup, ProbeTraits.TakesPath),
        ("getaddrinfo", ProbeKind.Setup, ProbeTraits.LibraryCall | ProbeTraits.NamesHost),
        // A reverse resolution (Dns.GetHostEntry of an address): its target is the address.
        ("getnameinfo", ProbeKind.Setup, ProbeTraits.LibraryCall | ProbeTraits.NamesHost),
        // A command a Redis client sent and had answered on its own connection's threads (IoTrace.StackExchangeRedis).
        ("redis", ProbeKind.Transfer, ProbeTraits.LibraryCall | ProbeTraits.NamesHost),
        // An HttpClient request sent and answered on a multiplexed connection (HTTP/2), whose loops do its IO.
        ("http", ProbeKind.Transfer, ProbeTraits.LibraryCall | ProbeTraits.NamesHost),
        // An operation a client recorded as an Activity (NATS.Net's publish) where it does its IO on threads of its own.
        ("activity", ProbeKind.Transfer, ProbeTraits.LibraryCall | ProbeTraits.NamesHost | ProbeTraits.Untimed),
        // Windows: the NT kernel logger's file operations (ETW). A FileObject is the fd: Create starts its life, Close
        // (the last reference gone) ends it; Cleanup is the last handle's CloseHandle.
        ("FileIO/Read", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("FileIO/Write", ProbeKind.Write, ProbeTraits.MovesBytes),
        ("FileIO/DirEnum", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("FileIO/Create", ProbeKind.Setup, ProbeTraits.OpensFd | ProbeTraits.TakesPath),
        ("FileIO/Cleanup", ProbeKind.Setup, ProbeTraits.None),
        ("FileIO/Close", ProbeKind.Setup, ProbeTraits.ClosesFd),
        ("FileIO/QueryInfo", ProbeKind.Setup, ProbeTraits.None),
        ("FileIO/SetInfo", ProbeKind.Setup, ProbeTraits.None),
        ("FileIO/Delete", ProbeKind.Setup, ProbeTraits.None),
        ("FileIO/Rename", ProbeKind.Setup, ProbeTraits.None),
        ("FileIO/Flush", ProbeKind.Setup, ProbeTraits.None),
        ("FileIO/FSControl", ProbeKind.Setup, ProbeTraits.None),
        // Windows: sockets, as the Winsock kernel driver's events (Microsoft-Windows-Winsock-AFD) name its requests.
        ("AFD/Receive", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("AFD/ReceiveFrom", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("AFD/ReceiveMessage", ProbeKind.Read, ProbeTraits.MovesBytes),
        ("AFD/Send", ProbeKind.Write, ProbeTraits.MovesBytes),
        ("AFD/SendTo", ProbeKind.Write, ProbeTraits.MovesBytes),
        ("AFD/SendMessage", ProbeKind.Write, ProbeTraits.MovesBytes),
        ("AFD/Create", ProbeKind.Setup, ProbeTraits.OpensFd),
        ("AFD/Connect", ProbeKind.Setup, ProbeTraits.NamesFd),
        ("AFD/Accept", ProbeKind.Setup, ProbeTraits.None),
        ("AFD/Bind", ProbeKind.Setup, ProbeTraits.None),
        ("AFD/Close", ProbeKind.Setup, ProbeTraits.ClosesFd),
    ];

    private static readonly ProbeTraits[] s_traits = [.. s_all.Select(p => p.Traits)];

    // Read once per report row by the meter and the warnings: a lookup, not a scan of the catalog.
    private static readonly FrozenDictionary<string, int> s_byName = s_all.Select((p, i) => KeyValuePair.Create(p.Name, i)).ToFrozenDictionary(StringComparer.Ordinal);

    // Linux's system calls, then the library calls every backend's traces may hold, then Windows's operations.
    private static readonly int s_firstLibraryCall = s_byName["getaddrinfo"];
    private static readonly int s_firstWindows = s_byName["FileIO/Read"];

    public static int Count => s_all.Length;

    /// <summary>
    /// The probes a trace can hold, as one range of indexes: a Windows backend's operations and the library calls, or
    /// Linux's system calls and the library calls. A trace sizes its per-probe counts by it.
    /// </summary>
    public static (int First, int Count) Range(bool windows) =>
        windows ? (s_firstLibraryCall, s_all.Length - s_firstLibraryCall) : (0, s_firstWindows);

    public static string Name(int probe) => s_all[probe].Name;

    public static ProbeKind Kind(int probe) => s_all[probe].Kind;

    public static ProbeTraits Traits(int probe) => s_traits[probe];

    public static bool Has(int probe, ProbeTraits traits) => (s_traits[probe] & traits) != 0;

    public static int IndexOf(string name) =>
        TryIndexOf(name, out var probe) ? probe : throw new ArgumentException($"Unknown probe '{name}'.", nameof(name));

    /// <summary>The index of the probe named <paramref name="name"/>; false for a name the catalog does not have.</summary>
    public static bool TryIndexOf(string name, out int probe) => s_byName.TryGetValue(name, out probe);

    /// <summary>The direction of the probe named <paramref name="name"/>; false for a name the catalog does not have.</summary>
    public static bool TryGetKind(string name, out ProbeKind kind)
    {
        var known = TryIndexOf(name, out var probe);
        kind = known ? s_all[probe].Kind : default;
        return known;
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
        Strategy.Read => kind is ProbeKind.Read or ProbeKind.Transfer,
        Strategy.Write => kind is ProbeKind.Write or ProbeKind.Transfer,
        _ => false,
    };
}
