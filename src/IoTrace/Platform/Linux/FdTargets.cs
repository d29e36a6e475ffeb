using System.Text;
using IoTrace.Tracing;

namespace IoTrace.Platform.Linux;

/// <summary>Names what is behind an fd: the path of a file, the peer of a socket.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static unsafe class FdTargets
{
    /// <summary>Names a socket by its peer; anything else (or an unconnected socket) by <c>/proc/self/fd/N</c>.</summary>
    /// <remarks>getpeername first: a pooled connection is named without reading /proc, which costs several times more.</remarks>
    public static string? Resolve(int fd) => PeerOf(fd) ?? LinkOf(fd);

    /// <summary>What <c>/proc/self/fd/N</c> links to: a file's path, <c>socket:[inode]</c>, <c>pipe:[inode]</c>.</summary>
    public static string? LinkOf(int fd)
    {
        if (fd < 0)
        {
            return null;
        }

        Span<byte> path = stackalloc byte[32];
        var written = Encoding.ASCII.GetBytes($"/proc/self/fd/{fd}", path);
        path[written] = 0;
        var buffer = stackalloc byte[4096];
        nint length;
        fixed (byte* p = path)
        {
            length = LibcInterop.ReadLink(p, buffer, 4095);
        }

        return length > 0 ? Encoding.UTF8.GetString(buffer, (int)length) : null;
    }

    /// <summary>A connected socket's peer (<c>getpeername</c>); null for anything else.</summary>
    public static string? PeerOf(int fd)
    {
        var address = stackalloc byte[128];
        var size = 128;
        return fd >= 0 && LibcInterop.GetPeerName(fd, address, &size) == 0 ? FormatSocketAddress((nint)address, size) : null;
    }

    /// <summary>Whether the fd is a stream socket (<c>SO_TYPE</c> is <c>SOCK_STREAM</c>): its peer is fixed from its connect to its close.</summary>
    public static bool IsStreamSocket(int fd)
    {
        const int SolSocket = 1;
        const int SoType = 3;
        const int SockStream = 1;
        int type = 0, size = sizeof(int);
        return fd >= 0 && LibcInterop.GetSockOpt(fd, SolSocket, SoType, &type, &size) == 0 && type == SockStream;
    }

    /// <summary>An IPv4 or IPv6 <c>sockaddr</c>'s address alone (<c>127.0.0.1</c>, <c>::1</c>), as a reverse lookup names it; null for another family.</summary>
    public static string? FormatHostAddress(nint address, int length) =>
        address == 0 ? null : SocketAddressLayout.Linux.FormatHost(new ReadOnlySpan<byte>((void*)address, length));

    /// <summary>Formats a <c>sockaddr</c> as <c>127.0.0.1:5000</c>, <c>[::1]:5000</c> or <c>unix:/path</c> (<see cref="SocketAddressLayout.Format(ReadOnlySpan{byte})"/>).</summary>
    public static string? FormatSocketAddress(nint address, int length) =>
        address == 0 ? null : SocketAddressLayout.Linux.Format(new ReadOnlySpan<byte>((void*)address, length));
}
