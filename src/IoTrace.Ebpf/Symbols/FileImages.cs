using System.Globalization;

namespace IoTrace.Ebpf.Symbols;

/// <summary>
/// The process's executable mappings of files: native libraries and ReadyToRun assemblies, whose code is never in the
/// <see cref="ManagedCodeMap"/>. A return address outside them is in the runtime's own executable memory (jitted code,
/// stubs; on Linux a <c>/memfd:doublemapper</c> mapping): if the map does not know it, it may be code jitted just
/// before the call whose events are still in flight. Used by one thread (the flush processor).
/// </summary>
internal sealed class FileImages(string mapsPath = "/proc/self/maps")
{
    // Libraries come and go rarely; an address in none is read again at most this often (JIT code is in none).
    private const long RereadMilliseconds = 500;

    private (ulong Start, ulong End)[] _ranges = [];
    private long _read = long.MinValue / 2;

    /// <summary>Whether <paramref name="address"/> lies in an executable mapping of a file.</summary>
    public bool Contains(ulong address)
    {
        if (Find(_ranges, address))
        {
            return true;
        }

        if (Environment.TickCount64 - _read < RereadMilliseconds)
        {
            return false;
        }

        _read = Environment.TickCount64;
        _ranges = Read(mapsPath);
        return Find(_ranges, address);
    }

    private static bool Find((ulong Start, ulong End)[] ranges, ulong address)
    {
        var index = AddressRanges.LastStartingAtOrBefore(ranges, address);
        return index >= 0 && address < ranges[index].End;
    }

    private static (ulong Start, ulong End)[] Read(string mapsPath)
    {
        var ranges = new List<(ulong Start, ulong End)>();
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
                ranges.Add((ulong.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture), ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
            }
        }
        catch (IOException)
        {
            // No maps: every address not in the code map counts as possibly new code, which costs a wait, not a line.
        }

        ranges.Sort();
        return [.. ranges];
    }
}
