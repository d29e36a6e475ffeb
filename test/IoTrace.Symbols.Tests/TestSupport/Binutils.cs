using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;

namespace IoTrace.Symbols.Tests.TestSupport;

/// <summary>binutils as the oracle for what the backend reads from ELF files: readelf's .eh_frame rows, objdump's code.</summary>
internal static partial class Binutils
{
    public static string[] Run(string tool, params string[] arguments)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();

        // Not the exit code: readelf exits 1 when it cannot follow .gnu_debuglink, after printing everything.
        Assert.True(output.Length > 0, $"{tool} printed nothing: {stderr.Result}");
        return output.Split('\n');
    }

    [GeneratedRegex(@"^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ (?:CIE|FDE cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+))")]
    private static partial Regex EntryLine();

    // A register rule prints as "r10 (r10)": one column.
    [GeneratedRegex(@" \((\w+)\)")]
    private static partial Regex RegisterName();

    /// <summary>readelf's table of one CIE or FDE: its range, the columns (CFA, ra, rbx, rbp, ...) and the rows by location.</summary>
    private sealed record FrameTable(ulong Start, ulong End, string? Cie, List<string> Columns, List<(ulong Location, string[] Values)> Rows);

    internal readonly record struct Row(string Cfa, string ReturnAddress, string Rbp);

    internal sealed class ReadelfFrames
    {
        private static readonly Dictionary<string, ReadelfFrames> s_cache = [];
        private readonly List<FrameTable> _fdes = [];
        private readonly Dictionary<string, FrameTable> _cies = [];

        public static ReadelfFrames Of(string library)
        {
            lock (s_cache)
            {
                if (!s_cache.TryGetValue(library, out var frames))
                {
                    frames = new ReadelfFrames();
                    frames.Parse(Run("readelf", "-W", "--debug-dump=frames-interp", library));
                    s_cache[library] = frames;
                }

                return frames;
            }
        }

        public (ulong Start, ulong End) FunctionAt(ulong address)
        {
            var fde = _fdes.Single(f => address >= f.Start && address < f.End);
            return (fde.Start, fde.End);
        }

        /// <summary>The row in effect at <paramref name="address"/>, if an FDE covers it.</summary>
        public Row? RowAt(ulong address)
        {
            var fde = _fdes.FirstOrDefault(f => address >= f.Start && address < f.End);
            if (fde is null)
            {
                return null;
            }

            // readelf prints no rows for an FDE without instructions: its CIE's initial row holds for all of it.
            var table = fde.Rows.Count > 0 ? fde : _cies[fde.Cie!];
            var values = fde.Rows.Count > 0 ? fde.Rows.Last(r => r.Location <= address).Values : table.Rows[^1].Values;
            string Column(string name) => table.Columns.IndexOf(name) is var i and >= 0 ? values[i] : "u";
            return new Row(Column("CFA"), Column("ra"), Column("rbp"));
        }

        /// <summary>The row in effect at the instruction after the 2-byte one at <paramref name="instruction"/>, if one FDE covers both.</summary>
        public Row? RowAfterInstruction(ulong instruction) =>
            _fdes.Any(f => instruction >= f.Start && instruction + 2 < f.End) ? RowAt(instruction + 2) : null;

        private void Parse(string[] lines)
        {
            FrameTable? current = null;
            foreach (var line in lines)
            {
                if (EntryLine().Match(line) is { Success: true } entry)
                {
                    if (entry.Groups[2].Success)
                    {
                        current = new FrameTable(Hex(entry.Groups[3].Value), Hex(entry.Groups[4].Value), entry.Groups[2].Value, [], []);
                        _fdes.Add(current);
                    }
                    else
                    {
                        current = new FrameTable(0, 0, null, [], []);
                        _cies[entry.Groups[1].Value] = current;
                    }

                    continue;
                }

                var fields = RegisterName().Replace(line, "($1)").Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (current is null || fields.Length < 2)
                {
                    continue;
                }

                if (fields[0] == "LOC")
                {
                    current.Columns.AddRange(fields[1..]);
                }
                else if (fields[0].Length == 16 && ulong.TryParse(fields[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var location))
                {
                    current.Rows.Add((location, fields[1..]));
                }
            }
        }

        private static ulong Hex(string text) => ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
