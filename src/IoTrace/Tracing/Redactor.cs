using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace IoTrace.Tracing;

/// <summary>Replaces file paths and socket peers with per-process pseudonyms (a keyed hash: no dictionary lookups).</summary>
internal static class Redactor
{
    private static readonly byte[] s_key = RandomNumberGenerator.GetBytes(32);

    public static string? Target(string? target, IoTraceRedaction redaction)
    {
        if (target is null || redaction == IoTraceRedaction.None)
        {
            return target;
        }

        if (redaction.HasFlag(IoTraceRedaction.FilePaths) && target.StartsWith('/'))
        {
            return Pseudonym("file", target);
        }

        if (redaction.HasFlag(IoTraceRedaction.PeerAddresses)
            && (target.StartsWith("unix:", StringComparison.Ordinal) || IPEndPoint.TryParse(target, out _)))
        {
            return Pseudonym("peer", target);
        }

        // pipe:[123], socket:[456], anon_inode:[eventfd]: kernel object names reveal nothing.
        return target;
    }

    /// <summary>An absolute source path (outside the root) keeps only its file name.</summary>
    public static string? SourceFile(string? file, IoTraceRedaction redaction) =>
        file is not null && redaction.HasFlag(IoTraceRedaction.FilePaths) && Path.IsPathRooted(file) ? Path.GetFileName(file) : file;

    private static string Pseudonym(string kind, string value)
    {
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(s_key, Encoding.UTF8.GetBytes(value), hash);
        return string.Create(CultureInfo.InvariantCulture, $"{kind}#{Convert.ToHexStringLower(hash[..4])}");
    }
}
