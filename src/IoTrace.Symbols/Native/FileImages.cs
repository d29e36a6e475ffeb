using System.Globalization;

namespace IoTrace.Symbols.Native;

/// <summary>
/// The process's executable mappings of files: native libraries and ReadyToRun assemblies, whose code is never in the
/// <see cref="Managed.ManagedCodeMap"/>. A return address outside them is in the runtime's own executable memory (jitted code,
/// stubs; on Linux a <c>/memfd:doublemapper</c> mapping): if the map does not know it, it may be code jitted just
/// before the call whose events are still in flight. Used by one thread (the flush processor).
/// </summary>
internal sealed class FileImages(string mapsPath = "/proc/self/maps")
{
    // Libraries come and go rarely; an address in none is read again at most this often (JIT code is in none).
    private const long RereadMilliseconds = 500;

    private Mappings _mappings = new([], []);
    private long _read = long.MinValue / 2;

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
        _mappings = Read(mapsPath);
        return _mappings.TryFind(address, out path, out fileOffset);
    }

    private static Mappings Read(string mapsPath)
    {
        var mappings = new List<(ulong Start, ulong End, ulong Offset, string Path)>();
        try
        {
            foreach (var line in File.ReadLines(mapsPath))
            {
                // "start-end perms offset dev inode path": a file's path starts with '/'; the runtime's double-mapped
                // executable memory is a memfd, named like a path but no file.
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (fields.Length < 6 || !fields[1].Contains('x', StringComparison.Ordinal) || !fields[5].StartsWith('/')
                    || fields[5].StartsWith("/memfd:", StringComparison.Ordinal))
                {
                    continue;
                }

                var range = fields[0].Split('-');
                mappings.Add((
                    ulong.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    ulong.Parse(fields[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    fields[5]));
            }
        }
        catch (IOException)
        {
            // No maps: every address not in the code map counts as possibly new code, which costs a wait, not a line.
        }

        mappings.Sort();
        return new Mappings([.. mappings.Select(m => (m.Start, m.End))], [.. mappings.Select(m => (m.Offset, m.Path))]);
    }

    private sealed record Mappings((ulong Start, ulong End)[] Ranges, (ulong Offset, string Path)[] Files)
    {
        public bool TryFind(ulong address, out string path, out ulong fileOffset)
        {
            var index = AddressRanges.LastStartingAtOrBefore(Ranges, address);
            if (index >= 0 && address < Ranges[index].End)
            {
                path = Files[index].Path;
                fileOffset = address - Ranges[index].Start + Files[index].Offset;
                return true;
            }

            (path, fileOffset) = (string.Empty, 0);
            return false;
        }
    }
}
