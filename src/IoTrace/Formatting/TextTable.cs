using System.Globalization;

namespace IoTrace.Formatting;

/// <summary>A plain-text table with columns sized to their content, two spaces apart.</summary>
internal sealed class TextTable(params (string Header, bool AlignRight)[] columns)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells) => _rows.Add(cells);

    public void Write(TextWriter stream)
    {
        var widths = new int[columns.Length];
        for (var c = 0; c < columns.Length; c++)
        {
            widths[c] = columns[c].Header.Length;
            foreach (var row in _rows)
            {
                widths[c] = Math.Max(widths[c], row[c].Length);
            }
        }

        WriteRow(stream, widths, columns.Select(c => c.Header).ToArray());
        foreach (var row in _rows)
        {
            WriteRow(stream, widths, row);
        }
    }

    private void WriteRow(TextWriter stream, int[] widths, string[] cells)
    {
        var line = new System.Text.StringBuilder();
        for (var c = 0; c < cells.Length; c++)
        {
            if (c > 0)
            {
                line.Append("  ");
            }

            var last = c == cells.Length - 1;
            if (columns[c].AlignRight)
            {
                line.Append(cells[c].PadLeft(widths[c]));
            }
            else
            {
                line.Append(last ? cells[c] : cells[c].PadRight(widths[c]));
            }
        }

        stream.WriteLine(line.ToString().TrimEnd());
    }

    public static string Milliseconds(TimeSpan time) => time.TotalMilliseconds.ToString("0.000", CultureInfo.InvariantCulture) + " ms";

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Number(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? string.Empty;
}
