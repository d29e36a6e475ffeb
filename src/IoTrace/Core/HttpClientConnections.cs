using System.Collections.Concurrent;

namespace IoTrace.Core;

/// <summary>
/// The addresses HttpClient connected to for each host and port, from its <c>ConnectionEstablished</c> telemetry:
/// a kernel backend sees a socket's peer address, a request names its host, and this joins the two. Process-wide and
/// bounded; only connections made while the listener runs are known.
/// </summary>
internal static class HttpClientConnections
{
    private const int MaxHosts = 4096;
    private const int MaxAddressesPerHost = 16;

    private static readonly ConcurrentDictionary<(string Host, int Port), string[]> s_addresses = new();

    /// <summary>HttpClient connected to <paramref name="remoteAddress"/> for <paramref name="host"/>:<paramref name="port"/>.</summary>
    public static void Note(string host, int port, string remoteAddress)
    {
        if (s_addresses.Count >= MaxHosts && !s_addresses.ContainsKey((host, port)))
        {
            // A process that talks to ever more hosts: start over rather than grow; unknown hosts stay without a line.
            s_addresses.Clear();
        }

        s_addresses.AddOrUpdate(
            (host, port),
            static (_, address) => [address],
            static (_, known, address) => known.Contains(address, StringComparer.Ordinal) || known.Length >= MaxAddressesPerHost ? known : [.. known, address],
            remoteAddress);
    }

    /// <summary>The addresses seen for the host and port, empty when none is known.</summary>
    public static IReadOnlyList<string> AddressesOf(string host, int port) =>
        s_addresses.TryGetValue((host, port), out var addresses) ? addresses : [];

    /// <summary>Tests: forgets every connection.</summary>
    internal static void Clear() => s_addresses.Clear();
}
