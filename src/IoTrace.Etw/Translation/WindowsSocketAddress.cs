using System.Buffers.Binary;
using System.Net;

namespace IoTrace.Etw.Translation;

/// <summary>A Windows <c>SOCKADDR</c> as an AFD event carries it, formatted as the Linux backends format a peer.</summary>
internal static class WindowsSocketAddress
{
    private const ushort AfInet = 2;
    private const ushort AfInet6 = 23;

    /// <summary><c>127.0.0.1:5000</c> or <c>[::1]:5000</c>; null for another family or a short address.</summary>
    public static string? Format(ReadOnlySpan<byte> address)
    {
        if (address.Length < 2)
        {
            return null;
        }

        var port = address.Length >= 4 ? BinaryPrimitives.ReadUInt16BigEndian(address[2..]) : 0;
        switch (BinaryPrimitives.ReadUInt16LittleEndian(address))
        {
            case AfInet when address.Length >= 8:
                return new IPEndPoint(new IPAddress(address.Slice(4, 4)), port).ToString();
            case AfInet6 when address.Length >= 24:
                var ip = new IPAddress(address.Slice(8, 16));
                return new IPEndPoint(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip, port).ToString();
            default:
                return null;
        }
    }
}
