using System.Globalization;
using IoTrace.Platform.Linux;

namespace IoTrace.DTrace.Consumer;

/// <summary>
/// One call a traced thread made, as the script prints it:
/// <c>C|P|S cpu trace syscall arg0 gen[arg0] result gen[result] wall-ns pc r0..rN [target]</c>, where the target of a
/// <c>P</c> line is a path, and of an <c>S</c> line (connect) the first 24 bytes of the peer's address, as 3 words.
/// </summary>
internal sealed record DTraceRecord(
    long Trace,
    LinuxSyscall Syscall,
    long Arg0,
    long Arg0Generation,
    long Result,
    long ResultGeneration,
    long WallNanoseconds,
    ulong[] Stack,
    string? Target);

/// <summary>Reads the script's lines: call records, flush markers (<c>F cpu sequence</c>), readiness and the heartbeat.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class DTraceLineParser
{
    private const int StackLimit = 100_000;

    private static readonly Dictionary<string, LinuxSyscall> s_syscalls =
        LinuxSyscalls.X64.GroupBy(s => s.TracepointName).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);

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

    /// <summary>The record of a <c>C</c>, <c>P</c> or <c>S</c> line; null for a line that is not one, or is cut short.</summary>
    public DTraceRecord? ParseRecord(string line)
    {
        if (line.Length < 2 || line[1] != ' ' || line[0] is not ('C' or 'P' or 'S'))
        {
            return null;
        }

        // The path comes last and may hold spaces: split off the fixed fields first.
        const int Fixed = 9;
        var frames = Script.DTraceScript.Frames + 2;
        var fields = line.Split(' ', Fixed + frames + 1);
        if (fields.Length < Fixed + frames || !s_syscalls.TryGetValue(fields[3], out var syscall))
        {
            return null;
        }

        if (!Long(fields[2], out var trace) || !Long(fields[4], out var arg0) || !Long(fields[5], out var arg0Generation)
            || !Long(fields[6], out var result) || !Long(fields[7], out var resultGeneration) || !Long(fields[8], out var wall))
        {
            return null;
        }

        var stackText = string.Join(' ', fields, Fixed, frames);
        if (!_stacks.TryGetValue(stackText, out var stack))
        {
            if (_stacks.Count >= StackLimit)
            {
                _stacks.Clear();
            }

            stack = ParseStack(fields.AsSpan(Fixed, frames));
            _stacks[stackText] = stack;
        }

        var rest = fields.Length > Fixed + frames ? fields[Fixed + frames] : null;
        var target = line[0] switch
        {
            'P' => rest,
            'S' when rest is not null => Peer(rest),
            _ => null,
        };
        return new DTraceRecord(trace, syscall, arg0, arg0Generation, result, resultGeneration, wall, stack, target);
    }

    /// <summary>The instruction pointer, then the return addresses up to the first the walk did not read (0).</summary>
    private static ulong[] ParseStack(ReadOnlySpan<string> frames)
    {
        var stack = new List<ulong>(frames.Length);
        for (var i = 0; i < frames.Length; i++)
        {
            if (!ulong.TryParse(frames[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var address))
            {
                break;
            }

            // The second is the libc wrapper's return address, 0 where no rule stepped out of it: the walk goes on past it.
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

    /// <summary>An IPv4 or IPv6 peer from the address's first 3 words, as <see cref="FdTargets"/> names a connected socket.</summary>
    private static unsafe string? Peer(string words)
    {
        var parts = words.Split(' ');
        var address = stackalloc ulong[3];
        for (var i = 0; i < 3; i++)
        {
            if (i >= parts.Length || !ulong.TryParse(parts[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out address[i]))
            {
                return null;
            }
        }

        return FdTargets.FormatSocketAddress((nint)address, 24);
    }

    private static bool Long(string text, out long value) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value);
}
