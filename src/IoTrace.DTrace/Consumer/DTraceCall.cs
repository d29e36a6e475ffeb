using System.Globalization;
using IoTrace.DTrace.Script;
using IoTrace.Platform.Linux;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// One call of a traced thread, as the script prints it (<c>C|P trace call fd gen stack-hash bytes wall-ns [path]</c>),
/// with the stack and a connect's peer, which it prints apart.
/// </summary>
internal sealed record DTraceCall(
    long Trace,
    LinuxSyscall Syscall,
    int Fd,
    long Generation,
    ulong StackHash,
    string? Path,
    long Bytes,
    long WallNanoseconds)
{
    /// <summary>The instruction pointer first, then return addresses; empty without context (Summary).</summary>
    public ulong[] Stack { get; set; } = [];

    /// <summary>The path it names, or a connect's peer.</summary>
    public string? Target { get; set; } = Path;
}

/// <summary>
/// Reads the script's lines: calls, stacks (<c>K hash pc r0..rN</c>), peers (<c>N trace fd gen w0 w1 w2</c>),
/// flush markers (<c>F cpu sequence</c>), readiness and the heartbeat.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class DTraceLineParser
{
    public static bool TryParseMarker(string line, out int cpu, out long sequence)
    {
        (cpu, sequence) = (0, 0);
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields is ["F", var c, var s]
            && int.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out cpu)
            && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out sequence);
    }

    /// <summary>The call of a <c>C</c> or <c>P</c> line; null for a line that is not one, or is cut short.</summary>
    public static DTraceCall? ParseCall(string line)
    {
        var hasPath = line.StartsWith("P ", StringComparison.Ordinal);
        if (!hasPath && !line.StartsWith("C ", StringComparison.Ordinal))
        {
            return null;
        }

        // The path comes last and may hold spaces: split off the fixed fields first.
        const int Fixed = 8;
        var fields = line.Split(' ', Fixed + 1);
        if (fields.Length < Fixed
            || !Long(fields[1], out var trace) || !Long(fields[2], out var call) || (ulong)call >= (ulong)LinuxSyscalls.X64.Count
            || !Long(fields[3], out var fd) || !Long(fields[4], out var generation) || !Hex(fields[5], out var hash)
            || !Long(fields[6], out var bytes) || !Long(fields[7], out var wall))
        {
            return null;
        }

        var path = hasPath ? (fields.Length > Fixed ? fields[Fixed] : string.Empty) : null;
        return new DTraceCall(trace, LinuxSyscalls.X64[(int)call], (int)fd, generation, hash, path, bytes, wall);
    }

    /// <summary>
    /// A <c>K</c> line's stack: the instruction pointer, then the return addresses up to the first the walk did not read
    /// (0); the wrapper's return address, 0 where no libc rule stepped out of it, is skipped and the walk goes on.
    /// </summary>
    public static bool TryParseStack(string line, out ulong hash, out ulong[] stack)
    {
        stack = [];
        var fields = line.Split(' ');
        if (fields.Length != DTraceScript.Frames + 4 || fields[0] != "K" || !Hex(fields[1], out hash))
        {
            hash = 0;
            return false;
        }

        var frames = new List<ulong>(DTraceScript.Frames + 2);
        for (var i = 2; i < fields.Length; i++)
        {
            if (!Hex(fields[i], out var address))
            {
                return false;
            }

            if (address == 0)
            {
                if (i == 3)
                {
                    continue;
                }

                break;
            }

            frames.Add(address);
        }

        stack = [.. frames];
        return true;
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
