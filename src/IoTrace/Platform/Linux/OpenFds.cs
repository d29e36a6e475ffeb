using System.Runtime.Versioning;

namespace IoTrace.Platform.Linux;

/// <summary>The process's open fds, as <c>/proc/self/fd</c> lists them.</summary>
[SupportedOSPlatform("linux")]
internal static unsafe class OpenFds
{
    // struct dirent64: d_ino, d_off (8 bytes each), d_reclen (2), d_type (1), then the name; the same on every Linux ABI.
    private const int NameOffset = 19;

    /// <summary>
    /// Every fd open now, but the listing's own. Read with readdir, not Directory's enumeration, which stats each entry's
    /// target (a path lookup through /proc: about 5 us an fd, ten times the listing).
    /// </summary>
    public static List<int> List()
    {
        var fds = new List<int>();
        var dir = LibcInterop.OpenDir("/proc/self/fd");
        if (dir == 0)
        {
            return fds;
        }

        try
        {
            var own = LibcInterop.DirFd(dir);
            for (var entry = LibcInterop.ReadDir64(dir); entry != 0; entry = LibcInterop.ReadDir64(dir))
            {
                if (Parse((byte*)entry + NameOffset) is var fd and >= 0 && fd != own)
                {
                    fds.Add(fd);
                }
            }
        }
        finally
        {
            _ = LibcInterop.CloseDir(dir);
        }

        return fds;
    }

    /// <summary>The name as an fd number; -1 for "." and "..".</summary>
    private static int Parse(byte* name)
    {
        var fd = 0;
        var digits = 0;
        for (; name[digits] != 0; digits++)
        {
            if (name[digits] is < (byte)'0' or > (byte)'9' || digits > 9)
            {
                return -1;
            }

            fd = (fd * 10) + (name[digits] - '0');
        }

        return digits > 0 ? fd : -1;
    }
}
