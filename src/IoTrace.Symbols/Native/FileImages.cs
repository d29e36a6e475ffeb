using IoTrace.Platform.Linux;

namespace IoTrace.Symbols.Native;

/// <summary>
/// The process's executable mappings of files: native libraries and ReadyToRun assemblies, whose code is never in the
/// <see cref="Managed.ManagedCodeMap"/>. A return address outside them is in the runtime's own executable memory (jitted code,
/// stubs; on Linux a <c>/memfd:doublemapper</c> mapping): if the map does not know it, it may be code jitted just
/// before the call whose events are still in flight. Read from Linux's maps file, or from any list of images (Windows's
/// loaded modules). Used by one thread (the flush processor).
/// </summary>
internal sealed class FileImages(Func<IEnumerable<FileMapping>> read)
{
    // Libraries come and go rarely; an address in none is read again at most this often (JIT code is in none).
    private const long RereadMilliseconds = 500;

    private Mappings _mappings = new(AddressRanges.Empty, []);
    private long _read = long.MinValue / 2;

    /// <summary>The images a Linux maps file lists (<c>/proc/self/maps</c>).</summary>
    public FileImages(string mapsPath = ProcessMaps.Self)
        : this(() => LinuxImages(mapsPath))
    {
    }

    /// <summary>An image was mapped since the last read (the runtime loaded an assembly): the next miss reads them again at once.</summary>
    public void Invalidate() => _read = long.MinValue / 2;

    /// <summary>Whether <paramref name="address"/> lies in an executable mapping of a file.</summary>
    public bool Contains(ulong address) => TryFind(address, out _, out _);

    /// <summary>The file whose executable mapping holds <paramref name="address"/>, and the file offset it maps there.</summary>
    public bool TryFind(ulong address, out string path, out ulong fileOffset)
    {
        if (_mappings.TryFind(address, out path, out fileOffset))
        {
            return true;
        }

        if (Environment.TickCount64 - _read < RereadMilliseconds)
        {
            return false;
        }

        _read = Environment.TickCount64;
        var files = read().OrderBy(m => m.Start).ToArray();
        _mappings = new Mappings(new AddressRanges(files.Select(m => (m.Start, m.End))), files);
        return _mappings.TryFind(address, out path, out fileOffset);
    }

    // The runtime's double-mapped executable memory is a memfd, named like a path but no file. An unreadable maps file
    // leaves none: every address not in the code map counts as possibly new code, which costs a wait, not a line.
    private static IEnumerable<FileMapping> LinuxImages(string mapsPath) =>
        ProcessMaps.Executable(mapsPath).Where(m => !m.Path.StartsWith("/memfd:", StringComparison.Ordinal));

    private sealed record Mappings(AddressRanges Ranges, FileMapping[] Files)
    {
        public bool TryFind(ulong address, out string path, out ulong fileOffset)
        {
            var index = Ranges.IndexOf(address);
            if (index >= 0)
            {
                path = Files[index].Path;
                fileOffset = address - Files[index].Start + Files[index].Offset;
                return true;
            }

            (path, fileOffset) = (string.Empty, 0);
            return false;
        }
    }
}
