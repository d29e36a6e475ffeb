using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;

namespace IoTrace.Tests.Shared;

/// <summary>
/// File-system and socket work that makes the system calls beyond reads and writes (mkdir, copy_file_range, rename,
/// chmod, utimensat, flock, ftruncate, symlink, readlink, getdents64, unlink, rmdir; listen, getsockname, setsockopt,
/// getsockopt), all on paths under <c>{root}/work</c> or on one socket, for a test to compare a backend's report with
/// what strace saw. Linked into the child processes that run it traced.
/// </summary>
internal static class FileSystemWork
{
    /// <summary>The folder the work creates and removes again, under <paramref name="root"/>: every path it touches starts with it.</summary>
    public static string Folder(string root) => Path.Combine(root, "work");

    /// <summary>Does the work, on the calling thread.</summary>
    [SupportedOSPlatform("linux")]
    public static void Run(string root)
    {
        var folder = Folder(root);
        Directory.CreateDirectory(folder);
        var original = Path.Combine(folder, "original.bin");
        File.WriteAllBytes(original, new byte[3000]);
        var copy = Path.Combine(folder, "copy.bin");
        File.Copy(original, copy);
        var moved = Path.Combine(folder, "moved.bin");
        File.Move(copy, moved);
        File.SetUnixFileMode(moved, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.SetLastWriteTimeUtc(moved, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        using (var stream = new FileStream(moved, FileMode.Open, FileAccess.ReadWrite, FileShare.None, bufferSize: 0))
        {
            stream.SetLength(10);
            stream.Flush(flushToDisk: true);
        }

        var link = Path.Combine(folder, "link");
        File.CreateSymbolicLink(link, moved);
        _ = File.ResolveLinkTarget(link, returnFinalTarget: false);
        var files = Directory.EnumerateFiles(folder).Count();
        if (files != 3)
        {
            throw new InvalidOperationException($"The folder lists {files} files, not 3.");
        }

        File.Delete(link);
        File.Delete(moved);
        File.Delete(original);
        Directory.Delete(folder);

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Listen();
        _ = socket.LocalEndPoint;
        socket.NoDelay = true;
        if (!socket.NoDelay)
        {
            throw new InvalidOperationException("TCP_NODELAY did not stay set.");
        }
    }
}
