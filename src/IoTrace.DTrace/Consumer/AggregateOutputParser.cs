using System.Globalization;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// Reads what a <see cref="Script.SyscallProviderScript"/> prints, line by line: <c>R</c> once its probes are enabled;
/// per flush, <c>S trace call calls bytes wall cpu</c> for a trace without context, <c>C trace call fd gen calls bytes
/// wall cpu path</c> followed by its <c>ustack()</c> frames, one per line, and a blank line; <c>N trace fd gen w0 w1
/// w2</c>, a connect's peer, as it happens; <c>F</c> at the flush's end. CPU is <c>-</c> where the platform has no
/// <c>vtimestamp</c>.
/// </summary>
internal sealed class AggregateOutputParser
{
    private List<AggregateRow> _rows = [];
    private List<ConnectedPeer> _peers = [];
    private AggregateRow? _open;
    private readonly List<ulong> _frames = [];

    /// <summary>Whether the script's probes are enabled (its <c>R</c> line was read).</summary>
    public bool IsReady { get; private set; }

    /// <summary>Lines that were none of the script's, or cut short: dtrace's own messages, mostly.</summary>
    public int Unrecognized { get; private set; }

    /// <summary>Reads one line; at a flush's end returns the flush, else null.</summary>
    public AggregateFlush? Add(string line)
    {
        if (_open is not null)
        {
            var frame = line.AsSpan().Trim();
            if (frame.Length != 0 && !IsRecord(line))
            {
                // A frame in code dtrace has symbols for prints as module`symbol+offset: native code, never the app's. One in
                // a mapping it knows but without a symbol prints as module`0xaddress (DTrace for Linux: jitted code in
                // memfd:doublemapper, ReadyToRun code in its assembly's file), anywhere else as 0xaddress.
                var address = frame[(frame.IndexOf('`') + 1)..];
                if (address.StartsWith("0x", StringComparison.Ordinal) && ulong.TryParse(address[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var value))
                {
                    _frames.Add(value);
                }

                return null;
            }

            CloseRow();
            if (frame.Length == 0)
            {
                return null;
            }
        }

        var fields = line.Split(' ');
        switch (fields)
        {
            case ["R"]:
                IsReady = true;
                return null;
            case ["F"]:
                CloseRow();
                var flush = new AggregateFlush(_rows, _peers);
                (_rows, _peers) = ([], []);
                return flush;
            case ["S", var trace, var call, var calls, var bytes, var wall, var cpu]
                when TryLong(trace, out var t) && TryLong(calls, out var n) && TryLong(bytes, out var b) && TryLong(wall, out var w) && TryCpu(cpu, out var c):
                _rows.Add(new AggregateRow(t, call, -1, 0, n, b, w, c, Path: null, Stack: []));
                return null;
            case ["C", var trace, var call, var fd, var gen, var calls, var bytes, var wall, var cpu, ..]
                when TryLong(trace, out var t) && int.TryParse(fd, NumberStyles.Integer, CultureInfo.InvariantCulture, out var f) && TryLong(gen, out var g)
                    && TryLong(calls, out var n) && TryLong(bytes, out var b) && TryLong(wall, out var w) && TryCpu(cpu, out var c):
                // The path is the rest of the line, spaces and all; empty for a call without one.
                var path = string.Join(' ', fields[9..]);
                _open = new AggregateRow(t, call, f, g, n, b, w, c, path.Length == 0 ? null : path, Stack: []);
                return null;
            case ["N", var trace, var fd, var gen, var w0, var w1, var w2]
                when TryLong(trace, out var t) && int.TryParse(fd, NumberStyles.Integer, CultureInfo.InvariantCulture, out var f) && TryLong(gen, out var g)
                    && TryHex(w0, out var a0) && TryHex(w1, out var a1) && TryHex(w2, out var a2):
                _peers.Add(new ConnectedPeer(t, f, g, [a0, a1, a2]));
                return null;
            default:
                Unrecognized++;
                return null;
        }
    }

    private void CloseRow()
    {
        if (_open is { } row)
        {
            _rows.Add(row with { Stack = [.. _frames] });
            _open = null;
            _frames.Clear();
        }
    }

    private static bool IsRecord(string line) => line.Length > 1 && line[1] == ' ' && line[0] is 'S' or 'C' or 'N' || line == "F";

    private static bool TryLong(string text, out long value) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);

    private static bool TryHex(string text, out ulong value) => ulong.TryParse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value);

    private static bool TryCpu(string text, out long? value)
    {
        value = null;
        if (text == "-")
        {
            return true;
        }

        var parsed = TryLong(text, out var cpu);
        value = parsed ? cpu : null;
        return parsed;
    }
}

/// <summary>
/// One key of a flush's aggregations: a trace's calls of one system call (by the platform's name), with context on one
/// fd life, path and stack (<c>ustack()</c> addresses; frames dtrace printed by symbol are left out). CPU is null where
/// the platform cannot measure it. Summary's rows have fd -1, no path and no stack.
/// </summary>
internal sealed record AggregateRow(long Trace, string Call, int Fd, long Generation, long Calls, long Bytes, long WallNanoseconds, long? CpuNanoseconds, string? Path, ulong[] Stack);

/// <summary>A connect's peer: the first 24 bytes of the address it was given, as three words.</summary>
internal sealed record ConnectedPeer(long Trace, int Fd, long Generation, ulong[] Address);

/// <summary>What one flush printed.</summary>
internal sealed record AggregateFlush(IReadOnlyList<AggregateRow> Rows, IReadOnlyList<ConnectedPeer> Peers);
