using System.Globalization;

namespace IoTrace.Formatting;

/// <summary>
/// A plain-text table with columns sized to their content, two spaces apart, no trailing spaces. A report is
/// rendered for every traced request, so nothing is stored per row: the caller gives its rows twice, once to size the
/// columns and once, after <see cref="BeginWriting"/>, to write them. Cells keep numbers as numbers, written straight
/// into the writer: no string per cell or per row.
/// </summary>
internal sealed class TextTable
{
    private const string Gap = "  ";
    private const string Spaces = "                                                                ";

    private readonly Layout _layout;
    private readonly int[] _widths;
    private TextWriter? _stream;

    public TextTable(Layout layout)
    {
        _layout = layout;
        _widths = new int[layout.Headers.Length];
        for (var c = 0; c < _widths.Length; c++)
        {
            _widths[c] = layout.Headers[c].Length;
        }
    }

    /// <summary>Sizes the columns for a row, or writes it once <see cref="BeginWriting"/> ran.</summary>
    public void Add(params ReadOnlySpan<Cell> row)
    {
        if (row.Length != _widths.Length)
        {
            throw new ArgumentException($"A row has {_widths.Length} cells, not {row.Length}.", nameof(row));
        }

        if (_stream is null)
        {
            for (var c = 0; c < row.Length; c++)
            {
                _widths[c] = Math.Max(_widths[c], row[c].Length);
            }
        }
        else
        {
            WriteRow(_stream, row);
        }
    }

    /// <summary>Ends the sizing pass and writes the header row; the rows added from now on are written.</summary>
    public void BeginWriting(TextWriter stream)
    {
        _stream = stream;
        WriteRow(stream, _layout.Headers);
    }

    private void WriteRow(TextWriter stream, ReadOnlySpan<Cell> row)
    {
        // Trailing empty cells are left out, and the last cell written is not padded: no trailing spaces.
        var last = row.Length - 1;
        while (last > 0 && row[last].Length == 0)
        {
            last--;
        }

        for (var c = 0; c <= last; c++)
        {
            if (c > 0)
            {
                stream.Write(Gap);
            }

            var padding = _widths[c] - row[c].Length;
            if (_layout.AlignRight[c])
            {
                WriteSpaces(stream, padding);
                row[c].WriteTo(stream);
            }
            else
            {
                row[c].WriteTo(stream);
                if (c < last)
                {
                    WriteSpaces(stream, padding);
                }
            }
        }

        stream.WriteLine();
    }

    private static void WriteSpaces(TextWriter stream, int count)
    {
        for (; count > 0; count -= Spaces.Length)
        {
            stream.Write(Spaces.AsSpan(0, Math.Min(count, Spaces.Length)));
        }
    }

    /// <summary>Writes <paramref name="value"/> in the invariant culture, without a string.</summary>
    public static void WriteNumber(TextWriter stream, long value) => Cell.Number(value).WriteTo(stream);

    /// <summary>Writes <paramref name="time"/> as milliseconds with three decimals and " ms", without a string.</summary>
    public static void WriteMilliseconds(TextWriter stream, TimeSpan time) => Cell.Milliseconds(time).WriteTo(stream);

    /// <summary>A table's columns: headers and alignment, made once per kind of table.</summary>
    internal sealed class Layout
    {
        public Layout(params ReadOnlySpan<(string Header, bool AlignRight)> columns)
        {
            Headers = new Cell[columns.Length];
            AlignRight = new bool[columns.Length];
            for (var c = 0; c < columns.Length; c++)
            {
                Headers[c] = columns[c].Header;
                AlignRight[c] = columns[c].AlignRight;
            }
        }

        public Cell[] Headers { get; }

        public bool[] AlignRight { get; }
    }

    /// <summary>One cell: text, or a number formatted (invariant) when written. Its length is known without formatting.</summary>
    internal readonly struct Cell
    {
        private const int MaxFormattedLength = 32;
        private const string MillisecondsUnit = " ms";

        private readonly string? _text;
        private readonly long _value;
        private readonly Kind _kind;

        private Cell(string? text, long value, Kind kind)
        {
            _text = text;
            _value = value;
            _kind = kind;
        }

        private enum Kind : byte
        {
            Text,
            Number,
            Microseconds,
        }

        /// <summary>The characters the cell writes.</summary>
        public int Length => _kind switch
        {
            Kind.Text => _text?.Length ?? 0,
            Kind.Number => Digits(_value),
            _ => Digits(_value / 1000) + (_value is > -1000 and < 0 ? 1 : 0) + 4 + MillisecondsUnit.Length,
        };

        public static Cell Text(string? text) => new(text, 0, Kind.Text);

        public static Cell Number(long value) => new(null, value, Kind.Number);

        /// <summary>The number, or an empty cell for <see langword="null"/>.</summary>
        public static Cell NumberOrEmpty(int? value) => value is { } v ? Number(v) : Text(null);

        /// <summary>
        /// Milliseconds with three decimals and " ms", rounded half away from zero to the microsecond as the "0.000"
        /// format does, in integer arithmetic: formatting a double is most of a table's cost.
        /// </summary>
        public static Cell Milliseconds(TimeSpan time)
        {
            var ticks = time.Ticks;
            var microseconds = (ticks + (ticks < 0 ? -5 : 5)) / 10;
            return new(null, microseconds, Kind.Microseconds);
        }

        public static implicit operator Cell(string? text) => Text(text);

        public void WriteTo(TextWriter stream)
        {
            if (_kind == Kind.Text)
            {
                stream.Write(_text);
            }
            else
            {
                stream.Write(Format(stackalloc char[MaxFormattedLength]));
            }
        }

        public override string ToString() => _kind == Kind.Text ? _text ?? string.Empty : new string(Format(stackalloc char[MaxFormattedLength]));

        private ReadOnlySpan<char> Format(Span<char> buffer)
        {
            int written;
            if (_kind == Kind.Number)
            {
                _value.TryFormat(buffer, out written, default, CultureInfo.InvariantCulture);
                return buffer[..written];
            }

            var whole = _value / 1000;
            var fraction = Math.Abs(_value % 1000);
            written = 0;
            if (_value < 0 && whole == 0)
            {
                buffer[written++] = '-';
            }

            whole.TryFormat(buffer[written..], out var wholeLength, default, CultureInfo.InvariantCulture);
            written += wholeLength;
            buffer[written++] = '.';
            buffer[written++] = (char)('0' + (fraction / 100));
            buffer[written++] = (char)('0' + (fraction / 10 % 10));
            buffer[written++] = (char)('0' + (fraction % 10));
            MillisecondsUnit.CopyTo(buffer[written..]);
            return buffer[..(written + MillisecondsUnit.Length)];
        }

        private static int Digits(long value)
        {
            var digits = value < 0 ? 2 : 1;
            for (var rest = Math.Abs(value / 10); rest != 0; rest /= 10)
            {
                digits++;
            }

            return digits;
        }
    }
}
