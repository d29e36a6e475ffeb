using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace IoTrace.Tracing;

/// <summary>Replaces file paths and socket peers with per-process pseudonyms (a keyed hash: no dictionary lookups).</summary>
internal static class Redactor
{
    // What /proc/self/fd names a socket not connected (yet): it reveals nothing, and is still a socket.
    private const string UnconnectedSocket = "socket:[";

    private static readonly byte[] s_key = RandomNumberGenerator.GetBytes(32);

    /// <summary>The target as a report shows it under <paramref name="redaction"/>.</summary>
    /// <param name="target">A path, a socket's peer or inode, or a host name.</param>
    /// <param name="redaction">What to redact.</param>
    /// <param name="isHostName">Whether <paramref name="target"/> is a host name a call resolved: a peer.</param>
    public static string? Target(string? target, IoTraceRedaction redaction, bool isHostName = false)
    {
        if (target is null || redaction == IoTraceRedaction.None)
        {
            return target;
        }

        var kind = KindOf(target);
        if ((redaction & IoTraceRedaction.FilePaths) != 0 && kind == IoTargetKind.File)
        {
            return Pseudonym("file", target);
        }

        if ((redaction & IoTraceRedaction.PeerAddresses) != 0 && (isHostName || (kind == IoTargetKind.Socket && !target.StartsWith(UnconnectedSocket, StringComparison.Ordinal))))
        {
            return Pseudonym("peer", target);
        }

        // pipe:[123], socket:[456], anon_inode:[eventfd]: kernel object names reveal nothing.
        return target;
    }

    /// <summary>What a target (as the backends name them) is: a path, a socket's peer or inode, or something else.</summary>
    public static IoTargetKind KindOf(string? target) =>
        target is null ? IoTargetKind.Other
        : target.StartsWith('/') ? IoTargetKind.File
        : target.StartsWith("unix:", StringComparison.Ordinal) || target.StartsWith(UnconnectedSocket, StringComparison.Ordinal) || IPEndPoint.TryParse(target, out _) ? IoTargetKind.Socket
        : IoTargetKind.Other;

    /// <summary>An absolute source path (outside the root) keeps only its file name.</summary>
    public static string? SourceFile(string? file, IoTraceRedaction redaction) =>
        file is not null && (redaction & IoTraceRedaction.FilePaths) != 0 && Path.IsPathRooted(file) ? Path.GetFileName(file) : file;

    private static string Pseudonym(string kind, string value)
    {
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(s_key, Encoding.UTF8.GetBytes(value), hash);
        return string.Create(CultureInfo.InvariantCulture, $"{kind}#{Convert.ToHexStringLower(hash[..4])}");
    }
}
