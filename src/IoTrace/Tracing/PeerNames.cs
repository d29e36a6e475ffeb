using System.Buffers.Binary;
using System.Net;

namespace IoTrace.Tracing;

/// <summary>
/// How a socket's peer is written as a target, whoever saw it: <c>127.0.0.1:5000</c>, <c>[::1]:5000</c>, an
/// IPv4-mapped IPv6 address as IPv4. Every backend's peers and HttpClient's requests use it, so that a request finds
/// its sockets by their peer.
/// </summary>
internal static class PeerNames
{
    public static string Of(IPAddress address, int port) => new IPEndPoint(Unmapped(address), port).ToString();

    /// <summary>
    /// The peer a <c>sockaddr_in</c> (or, <paramref name="ipv6"/>, a <c>sockaddr_in6</c>) holds, laid out alike on
    /// Linux and Windows after the family; null where it is too short.
    /// </summary>
    public static string? OfSocketAddress(ReadOnlySpan<byte> address, bool ipv6) =>
        IpOf(address, ipv6) is { } ip ? Of(ip, BinaryPrimitives.ReadUInt16BigEndian(address[2..])) : null;

    /// <summary>The address alone of the same <c>sockaddr</c> (an IPv4-mapped one as IPv4); null where it is too short.</summary>
    public static string? AddressOf(ReadOnlySpan<byte> address, bool ipv6) => IpOf(address, ipv6) is { } ip ? Unmapped(ip).ToString() : null;

    private static IPAddress? IpOf(ReadOnlySpan<byte> address, bool ipv6) =>
        address.Length < (ipv6 ? 24 : 8) ? null : new IPAddress(ipv6 ? address.Slice(8, 16) : address.Slice(4, 4));

    private static IPAddress Unmapped(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
