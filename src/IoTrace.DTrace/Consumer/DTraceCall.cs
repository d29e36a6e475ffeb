using System.Globalization;
using IoTrace.DTrace.Script;
using IoTrace.Platform;
using IoTrace.Platform.Linux;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// One call of a traced thread, as the script prints it (<c>C|P trace site call fd gen bytes wall-ns pc r0..rN [path]</c>;
/// <c>S</c>, without context, with three frames), with a connect's peer, which it prints apart. Its stack: the
/// instruction pointer first, then return addresses; without context (Summary) at most the first frame past libc.
/// <paramref name="InheritedSiteId"/>: the number of the line the thread's calls without an application frame inherit,
/// read from its slot (<see cref="Symbols.TraceSlotTable.InheritedSiteBits"/>); 0 for none.
/// </summary>
internal sealed record DTraceCall(
    long Trace,
    long InheritedSiteId,
    LinuxSyscall Syscall,
    int Fd,
    long Generation,
    ulong[] Stack,
    string? Path,
    long Bytes,
    long WallNanoseconds)
{
    /// <summary>The path it names, or a connect's peer.</summary>
    public string? Target { get; set; } = Path;
}

/// <summary>
/// Reads the script's lines: calls, peers (<c>N trace fd gen w0 w1 w2</c>), flush markers (<c>F cpu sequence</c>),
/// readiness and the heartbeat.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class DTraceLineParser
{
    private const int StackLimit = 100_000;

    // One array per distinct stack: the attributor caches by identity. Looked up by the line's text in place.
    private readonly Dictionary<string, ulong[]> _stacks;
    private readonly Dictionary<string, ulong[]>.AlternateLookup<ReadOnlySpan<char>> _stackLookup;

    public DTraceLineParser()
    {
        _stacks = new(StringComparer.Ordinal);
        _stackLookup = _stacks.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static bool TryParseMarker(string line, out int cpu, out long sequence)
    {
        (cpu, sequence) = (0, 0);
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields is ["F", var c, var s]
            && int.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out cpu)
            && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out sequence);
    }

    /// <summary>The call of a <c>C</c>, <c>P</c> or <c>S</c> line; null for a line that is not one, or is cut short.</summary>
    /// <remarks>Read in place: the only allocations are the call and, for a stack not seen before, its array and key.</remarks>
    public DTraceCall? ParseCall(string line)
    {
        var hasPath = line.StartsWith("P ", StringComparison.Ordinal);
        var isShort = line.StartsWith("S ", StringComparison.Ordinal);
        if (!hasPath && !isShort && !line.StartsWith("C ", StringComparison.Ordinal))
        {
            return null;
        }

        var rest = line.AsSpan(2);
        if (!NextLong(ref rest, out var trace) || !NextLong(ref rest, out var site) || !NextLong(ref rest, out var call) || (ulong)call >= (ulong)LinuxSyscalls.X64.Count
            || !NextLong(ref rest, out var fd) || !NextLong(ref rest, out var generation) || !NextLong(ref rest, out var bytes) || !NextLong(ref rest, out var wall))
        {
            return null;
        }

        // The frames, then (P) the path, which comes last and may hold spaces.
        var frames = isShort ? DTraceScript.ShortFrames : DTraceScript.Frames + 2;
        var afterFrames = rest;
        for (var i = 0; i < frames; i++)
        {
            if (afterFrames.IsEmpty)
            {
                return null;
            }

            _ = NextField(ref afterFrames);
        }

        // The frames' text, without the space before the path.
        var stackText = rest[..(rest.Length - afterFrames.Length)].TrimEnd(' ');
        if (stackText.IsEmpty)
        {
            return null;
        }

        if (!_stackLookup.TryGetValue(stackText, out var stack))
        {
            if (_stacks.Count >= StackLimit)
            {
                _stacks.Clear();
            }

            stack = ParseStack(stackText, frames);
            _stacks[stackText.ToString()] = stack;
        }

        var path = hasPath ? afterFrames.ToString() : null;
        return new DTraceCall(trace, site, LinuxSyscalls.X64[(int)call], (int)fd, generation, stack, path, bytes, wall);
    }

    /// <summary>
    /// The instruction pointer, then the return addresses up to the first the walk did not read (0); the wrapper's return
    /// address, 0 where no libc rule stepped out of it, is skipped and the walk goes on.
    /// </summary>
    private static ulong[] ParseStack(ReadOnlySpan<char> text, int frames)
    {
        var stack = new List<ulong>(frames);
        for (var i = 0; i < frames && !text.IsEmpty; i++)
        {
            if (!Hex(NextField(ref text), out var address))
            {
                break;
            }

            if (address == 0)
            {
                if (i == 1)
                {
                    continue;
                }

                break;
            }

            stack.Add(address);
        }

        return [.. stack];
    }

    /// <summary>The next space-separated decimal field of <paramref name="rest"/>, which moves past it.</summary>
    private static bool NextLong(ref ReadOnlySpan<char> rest, out long value) => Long(NextField(ref rest), out value);

    /// <summary>The next space-separated field of <paramref name="rest"/>, which moves past it and its space.</summary>
    private static ReadOnlySpan<char> NextField(ref ReadOnlySpan<char> rest)
    {
        var space = rest.IndexOf(' ');
        var field = space < 0 ? rest : rest[..space];
        rest = space < 0 ? default : rest[(space + 1)..];
        return field;
    }

    /// <summary>An <c>N</c> line: the peer a trace's connect on (fd, generation) named, as <see cref="FdTargets"/> names a connected socket.</summary>
    public static bool TryParsePeer(string line, out (long Trace, int Fd, long Generation) key, out string? peer)
    {
        key = default;
        peer = null;
        var fields = line.Split(' ');
        if (fields.Length != 7 || fields[0] != "N" || !Long(fields[1], out var trace) || !Long(fields[2], out var fd) || !Long(fields[3], out var generation))
        {
            return false;
        }

        Span<ulong> address = stackalloc ulong[3];
        for (var i = 0; i < 3; i++)
        {
            if (!Hex(fields[4 + i], out address[i]))
            {
                return false;
            }
        }

        key = (trace, (int)fd, generation);
        peer = SocketAddressLayout.Linux.Format(address);
        return true;
    }

    private static bool Long(ReadOnlySpan<char> text, out long value) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);

    private static bool Hex(ReadOnlySpan<char> text, out ulong value) => ulong.TryParse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value);
}
