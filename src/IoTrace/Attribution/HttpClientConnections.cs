using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using IoTrace.Tracing;

namespace IoTrace.Attribution;

/// <summary>
/// The addresses HttpClient connected to for each host and port, from its <c>ConnectionEstablished</c> telemetry:
/// a kernel backend sees a socket's peer address, a request names its host, and this joins the two. Process-wide and
/// bounded. A pooled connection made before the listener ran announced nothing: for a host without addresses, a
/// traced request starts a DNS resolution of its own (<see cref="Resolve"/>), once per host and port, whose answers
/// stand for the addresses it may have reached.
/// </summary>
internal static class HttpClientConnections
{
    private const int MaxHosts = 4096;
    private const int MaxAddressesPerHost = 16;

    private static readonly ConcurrentDictionary<(string Host, int Port), string[]> s_addresses = new();
    private static readonly ConcurrentDictionary<(string Host, int Port), Task> s_resolutions = new();
    private static readonly ConcurrentDictionary<(string Host, int Port), byte> s_waitedFor = new();

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

    /// <summary>
    /// The addresses known for the host and port; if none is and a resolution of the name is under way, waits for it
    /// up to <paramref name="wait"/>, the first time only (a kernel backend's flush, about to match the trace's sockets).
    /// </summary>
    public static IReadOnlyList<string> AddressesOf(string host, int port, TimeSpan wait)
    {
        if (s_addresses.TryGetValue((host, port), out var addresses))
        {
            return addresses;
        }

        // Waited for once: a resolver that hangs (an unreachable DNS server) must not hold every later flush too.
        if (s_resolutions.TryGetValue((host, port), out var resolution) && s_waitedFor.TryAdd((host, port), 0))
        {
            // Never faults for a name that cannot be resolved; anything else is the caller's to report.
            _ = resolution.Wait(wait);
        }

        return AddressesOf(host, port);
    }

    /// <summary>
    /// Resolves <paramref name="host"/> in the background if no address is known for it on <paramref name="port"/>,
    /// once: outside the caller's flow (its IO is no request's), its answers noted as addresses.
    /// </summary>
    public static void Resolve(string host, int port)
    {
        if (s_addresses.ContainsKey((host, port)) || s_resolutions.ContainsKey((host, port)) || IPAddress.TryParse(host.Trim('[', ']'), out _))
        {
            return;
        }

        if (s_resolutions.Count >= MaxHosts)
        {
            return;
        }

        using var flow = SuppressedFlow.Begin();
        s_resolutions.TryAdd((host, port), Task.Run(async () =>
        {
            try
            {
                foreach (var address in await Dns.GetHostAddressesAsync(host).ConfigureAwait(false))
                {
                    Note(host, port, (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString());
                }
            }
            catch (Exception e) when (e is SocketException or ArgumentException)
            {
                // Not resolvable here (or no valid name): its sockets keep no line, as before.
            }
        }));
    }

    /// <summary>Tests: forgets every connection and resolution.</summary>
    internal static void Clear()
    {
        s_addresses.Clear();
        s_resolutions.Clear();
        s_waitedFor.Clear();
    }
}
