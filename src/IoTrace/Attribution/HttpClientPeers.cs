using System.Net;
using IoTrace.Tracing;

namespace IoTrace.Attribution;

/// <summary>
/// The application line of a socket that HttpClient opened and used on the thread pool (no app frame on any of its
/// stacks, none inherited in the flow): the line of the trace's HttpClient request to that peer (an IP literal, or a
/// name HttpClient connected to it for), when exactly one line made requests to it.
/// </summary>
internal static class HttpClientPeers
{
    /// <summary>
    /// The line of each peer (formatted as targets are: <c>127.0.0.1:5000</c>, <c>[::1]:5000</c>) that the trace's
    /// requests name unambiguously. A request to a DNS name names the addresses HttpClient connected to for it
    /// (<paramref name="addressesOf"/>, from its <c>ConnectionEstablished</c> events). A peer requested from two lines,
    /// or by a request without a line, has none; so has every peer on the port of a request to a DNS name whose
    /// addresses are unknown, or that none of the names on its port reached: it may be one of them. A line is never guessed.
    /// </summary>
    public static Dictionary<string, SourceLocation> Lines(IReadOnlyCollection<TraceSession.HttpRequestSite> requests, Func<string, int, IReadOnlyList<string>>? addressesOf = null)
    {
        var lines = new Dictionary<string, SourceLocation>(StringComparer.Ordinal);
        if (requests.Count == 0)
        {
            return lines;
        }

        var ambiguous = new HashSet<string>(StringComparer.Ordinal);
        var unknownNamePorts = new HashSet<int>();
        var namedPorts = new HashSet<int>();
        var reachedByName = new HashSet<string>(StringComparer.Ordinal);
        foreach (var request in requests)
        {
            List<string> peers = [];
            if (PeerOf(request.Host, request.Port) is { } literal)
            {
                peers.Add(literal);
            }
            else
            {
                namedPorts.Add(request.Port);
                foreach (var address in addressesOf?.Invoke(request.Host, request.Port) ?? [])
                {
                    if (PeerOf(address, request.Port) is { } reached)
                    {
                        peers.Add(reached);
                        reachedByName.Add(reached);
                    }
                }

                if (peers.Count == 0)
                {
                    unknownNamePorts.Add(request.Port);
                    continue;
                }
            }

            foreach (var peer in peers)
            {
                if (request.Site is not { IsApplication: true } site
                    || (lines.TryGetValue(peer, out var known) && !known.IsSameLine(site)))
                {
                    ambiguous.Add(peer);
                    continue;
                }

                lines[peer] = site;
            }
        }

        foreach (var peer in lines.Keys.ToList())
        {
            var port = IPEndPoint.Parse(peer).Port;
            if (ambiguous.Contains(peer) || unknownNamePorts.Contains(port) || (namedPorts.Contains(port) && !reachedByName.Contains(peer)))
            {
                lines.Remove(peer);
            }
        }

        return lines;
    }

    /// <summary>The peer of an IP literal host, as the kernel's targets name it; null for a DNS name.</summary>
    internal static string? PeerOf(string host, int port)
    {
        var literal = host.Length > 2 && host[0] == '[' && host[^1] == ']' ? host[1..^1] : host;
        if ((uint)port > IPEndPoint.MaxPort || !IPAddress.TryParse(literal, out var address))
        {
            return null;
        }

        return PeerNames.Of(address, port);
    }
}
