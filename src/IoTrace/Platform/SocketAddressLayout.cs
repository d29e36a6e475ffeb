using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using IoTrace.Tracing;

namespace IoTrace.Platform;

/// <summary>
/// A <c>sockaddr</c> as one OS lays it out: where its family is (Linux's and illumos's are the first two bytes, the
/// BSDs' and macOS's the second byte, after a length byte) and the numbers of the families IoTrace names. The port and
/// the address are at the same offsets everywhere (the port at 2, an IPv4 address at 4, an IPv6 one at 8), and so is a
/// local socket's path (at 2). Little-endian machines only, as .NET runs on.
/// </summary>
internal sealed class SocketAddressLayout(bool familyIsSecondByte, int unix, int inet, int inet6)
{
    /// <summary>glibc's <c>sys/socket.h</c>.</summary>
    public static SocketAddressLayout Linux { get; } = new(familyIsSecondByte: false, unix: 1, inet: 2, inet6: 10);

    /// <summary>XNU's <c>sys/socket.h</c>: <c>sa_len</c>, then <c>sa_family</c>.</summary>
    public static SocketAddressLayout MacOS { get; } = new(familyIsSecondByte: true, unix: 1, inet: 2, inet6: 30);

    /// <summary>FreeBSD's <c>sys/socket.h</c>: <c>sa_len</c>, then <c>sa_family</c>.</summary>
    public static SocketAddressLayout FreeBsd { get; } = new(familyIsSecondByte: true, unix: 1, inet: 2, inet6: 28);

    /// <summary>illumos's <c>sys/socket_impl.h</c> and <c>sys/socket.h</c>.</summary>
    public static SocketAddressLayout Illumos { get; } = new(familyIsSecondByte: false, unix: 1, inet: 2, inet6: 26);

    /// <summary>A <c>sockaddr</c> printed as words (a dtrace script's), formatted as <see cref="Format(ReadOnlySpan{byte})"/> does.</summary>
    public string? Format(ReadOnlySpan<ulong> words) => Format(MemoryMarshal.AsBytes(words));

    /// <summary>
    /// A <c>sockaddr</c> as <c>127.0.0.1:5000</c>, <c>[::1]:5000</c> or <c>unix:/path</c>; another family as
    /// <c>family N</c>; null where it is too short for its family.
    /// </summary>
    public string? Format(ReadOnlySpan<byte> bytes)
    {
        var family = Family(bytes);
        if (family < 0)
        {
            return null;
        }

        if (family == inet || family == inet6)
        {
            return PeerNames.OfSocketAddress(bytes, ipv6: family == inet6);
        }

        if (family == unix)
        {
            var path = bytes[2..];
            var end = path.IndexOf((byte)0);
            return "unix:" + Encoding.UTF8.GetString(end >= 0 ? path[..end] : path);
        }

        return $"family {family}";
    }

    /// <summary>An IPv4 or IPv6 <c>sockaddr</c>'s address alone (<c>127.0.0.1</c>, <c>::1</c>); null for another family.</summary>
    public string? FormatHost(ReadOnlySpan<byte> bytes)
    {
        var family = Family(bytes);
        return family == inet || family == inet6 ? PeerNames.AddressOf(bytes, ipv6: family == inet6) : null;
    }

    private int Family(ReadOnlySpan<byte> bytes) =>
        bytes.Length < 2 ? -1 : familyIsSecondByte ? bytes[1] : BinaryPrimitives.ReadUInt16LittleEndian(bytes);
}
