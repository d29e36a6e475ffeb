using System.Globalization;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// One call of a traced thread, as the script prints it (<c>C|P trace call fd gen bytes wall-ns pc r0..rN [path]</c>;
/// <c>S</c>, without context, with three frames), with a connect's peer, which it prints apart. Its stack: the
/// instruction pointer first, then return addresses; without context (Summary) at most the first frame past libc.
/// </summary>
internal sealed record DTraceCall(
    long Trace,
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

    // One array per distinct stack: the attributor caches by identity.
    private readonly Dictionary<string, ulong[]> _stacks = new(StringComparer.Ordinal);

    public static bool TryParseMarker(string line, out int cpu, out long sequence)
    {
        (cpu, sequence) = (0, 0);
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields is ["F", var c, var s]
            && int.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out cpu)
            && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out sequence);
    }

    /// <summary>The call of a <c>C</c>, <c>P</c> or <c>S</c> line; null for a line that is not one, or is cut short.</summary>
    public DTraceCall? ParseCall(string line)
    {
        var hasPath = line.StartsWith("P ", StringComparison.Ordinal);
        var isShort = line.StartsWith("S ", StringComparison.Ordinal);
        if (!hasPath && !isShort && !line.StartsWith("C ", StringComparison.Ordinal))
        {
            return null;
        }

        // The path comes last and may hold spaces: split off the fixed fields first.
        const int Head = 7;
        var frames = isShort ? DTraceScript.ShortFrames : DTraceScript.Frames + 2;
        var fields = line.Split(' ', Head + frames + 1);
        if (fields.Length < Head + frames
            || !Long(fields[1], out var trace) || !Long(fields[2], out var call) || (ulong)call >= (ulong)LinuxSyscalls.X64.Count
            || !Long(fields[3], out var fd) || !Long(fields[4], out var generation) || !Long(fields[5], out var bytes) || !Long(fields[6], out var wall))
        {
            return null;
        }

        var stackText = string.Join(' ', fields, Head, frames);
        if (!_stacks.TryGetValue(stackText, out var stack))
        {
            if (_stacks.Count >= StackLimit)
            {
                _stacks.Clear();
            }

            stack = ParseStack(fields.AsSpan(Head, frames));
            _stacks[stackText] = stack;
        }

        var path = hasPath ? (fields.Length > Head + frames ? fields[Head + frames] : string.Empty) : null;
        return new DTraceCall(trace, LinuxSyscalls.X64[(int)call], (int)fd, generation, stack, path, bytes, wall);
    }

    /// <summary>
    /// The instruction pointer, then the return addresses up to the first the walk did not read (0); the wrapper's return
    /// address, 0 where no libc rule stepped out of it, is skipped and the walk goes on.
    /// </summary>
    private static ulong[] ParseStack(ReadOnlySpan<string> frames)
    {
        var stack = new List<ulong>(frames.Length);
        for (var i = 0; i < frames.Length; i++)
        {
            if (!Hex(frames[i], out var address))
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

    /// <summary>An <c>N</c> line: the peer a trace's connect on (fd, generation) named, as <see cref="FdTargets"/> names a connected socket.</summary>
    public static unsafe bool TryParsePeer(string line, out (long Trace, int Fd, long Generation) key, out string? peer)
    {
        key = default;
        peer = null;
        var fields = line.Split(' ');
        if (fields.Length != 7 || fields[0] != "N" || !Long(fields[1], out var trace) || !Long(fields[2], out var fd) || !Long(fields[3], out var generation))
        {
            return false;
        }

        var address = stackalloc ulong[3];
        for (var i = 0; i < 3; i++)
        {
            if (!Hex(fields[4 + i], out address[i]))
            {
                return false;
            }
        }

        key = (trace, (int)fd, generation);
        peer = FdTargets.FormatSocketAddress((nint)address, 24);
        return true;
    }

    private static bool Long(string text, out long value) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);

    private static bool Hex(string text, out ulong value) => ulong.TryParse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value);
}
