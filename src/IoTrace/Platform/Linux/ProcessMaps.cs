using System.Globalization;

namespace IoTrace.Platform.Linux;

/// <summary>An executable mapping of a file in a process: where it is, and which part of which file it maps.</summary>
internal readonly record struct FileMapping(ulong Start, ulong End, ulong Offset, string Path);

/// <summary>Reads a process's executable file mappings from its maps file (<c>/proc/self/maps</c>).</summary>
internal static class ProcessMaps
{
    public const string Self = "/proc/self/maps";

    /// <summary>
    /// The executable mappings of files (a path that starts with '/'), in the file's order, which is by address; empty
    /// where the maps file cannot be read.
    /// </summary>
    public static List<FileMapping> Executable(string mapsPath = Self)
    {
        var mappings = new List<FileMapping>();
        try
        {
            foreach (var line in File.ReadLines(mapsPath))
            {
                // "start-end perms offset dev inode path"
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (fields.Length < 6 || !fields[1].Contains('x', StringComparison.Ordinal) || !fields[5].StartsWith('/'))
                {
                    continue;
                }

                var range = fields[0].Split('-');
                mappings.Add(new FileMapping(Hex(range[0]), Hex(range[1]), Hex(fields[2]), fields[5]));
            }
        }
        catch (IOException)
        {
            // No maps file (another system, a process gone): no mappings.
        }

        return mappings;
    }

    private static ulong Hex(string text) => ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
