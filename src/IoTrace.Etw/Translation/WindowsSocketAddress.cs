using System.Buffers.Binary;
using IoTrace.Tracing;

namespace IoTrace.Etw.Translation;

/// <summary>A Windows <c>SOCKADDR</c> as an AFD event carries it, as a peer (<see cref="PeerNames"/>).</summary>
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

        var family = BinaryPrimitives.ReadUInt16LittleEndian(address);
        return family is AfInet or AfInet6 ? PeerNames.OfSocketAddress(address, ipv6: family == AfInet6) : null;
    }
}
