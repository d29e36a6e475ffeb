using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using Iced.Intel;

namespace IoTrace.Symbols.Native;

/// <summary>
/// A native library's call graph, read from its code with Iced's x86-64 decoder: its functions (the starts of its
/// .eh_frame FDEs), the direct calls to each (<c>call rel32</c>, through a PLT stub too), its tail calls
/// (<c>jmp rel32</c> to another function's start), its indirect calls (<c>call r/m64</c>) and its calls into imported
/// functions. What the kernel-side backends search to find the return addresses a library's IO can have.
/// </summary>
/// <remarks>
/// The code is decoded once, when an index is first asked for, function by function: from each function's start to
/// the next one's, so that padding or data after a function cannot shift the instruction boundaries of the next.
/// Code before the first function (<c>_init</c>) has no unwind rule and is not read.
/// </remarks>
internal sealed class NativeCallGraph(ElfImage image, EhFrame frames)
{
    private readonly ulong[] _functions = frames.Starts();
    private readonly Dictionary<ulong, ulong?> _stubs = [];
    private SegmentDecoders? _decoders;
    private CallSites? _sites;
    private Dictionary<ulong, List<ulong>>? _callers;
    private Dictionary<ulong, List<ulong>>? _tailCallers;
    private ElfImage.PointerSlots? _slots;

    /// <summary>The start of the function (FDE) holding <paramref name="address"/>, or null.</summary>
    public ulong? FunctionOf(ulong address)
    {
        var index = Array.BinarySearch(_functions, address);
        index = index >= 0 ? index : ~index - 1;
        return index >= 0 ? _functions[index] : null;
    }

    /// <summary>The return addresses of the direct calls (<c>call rel32</c>) to <paramref name="function"/>, straight or through its PLT stub.</summary>
    public List<ulong> CallersOf(ulong function) =>
        (_callers ??= IndexCalls()).TryGetValue(function, out var callers) ? callers : [];

    /// <summary>
    /// The functions that jump (<c>jmp rel32</c>) to <paramref name="function"/>'s start: a tail call leaves no frame,
    /// so their callers' return addresses are the frames above <paramref name="function"/>'s (glibc's <c>fstat</c>
    /// jumps to <c>fstatat64</c>).
    /// </summary>
    public List<ulong> TailCallersOf(ulong function) =>
        (_tailCallers ??= IndexTailCalls()).TryGetValue(function, out var callers) ? callers : [];

    /// <summary>
    /// The return addresses, ascending, of the calls into the imported functions named in <paramref name="imports"/>,
    /// through a PLT stub (<c>call open64@plt</c>) or a pointer slot (<c>call *slot(%rip)</c>: SQLite's table of system calls).
    /// </summary>
    // Optimized from its first call: a first lesson waits on its loop over every call of the library (about 18,000 in
    // e_sqlite3), which runs once per library, too early for tiering to help.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public List<ulong> IoCallReturns(FrozenSet<string> imports)
    {
        var slots = Slots;
        var returns = new List<ulong>();
        if (slots.Imported.Count == 0)
        {
            return returns;
        }

        var sites = Sites;
        foreach (var call in sites.Direct)
        {
            if (PltSlot(call.Target) is { } slot && IsImport(slot))
            {
                returns.Add(call.ReturnAddress);
            }
        }

        foreach (var call in sites.Indirect)
        {
            if (call.Slot is { } slot && IsImport(slot))
            {
                returns.Add(call.ReturnAddress);
            }
        }

        returns.Sort();
        return returns;

        bool IsImport(ulong slot) => slots.Imported.TryGetValue(slot, out var name) && imports.Contains(name);
    }

    /// <summary>The return addresses, ascending, of the indirect calls (<c>call r/m64</c>), the first <paramref name="atMost"/>.</summary>
    public List<ulong> IndirectCallReturns(int atMost) =>
        [.. Sites.Indirect.Take(atMost).Select(call => call.ReturnAddress)];

    private ElfImage.PointerSlots Slots => _slots ??= image.GotSlots();

    private CallSites Sites => _sites ??= DecodeFunctions();

    private SegmentDecoders Decoders => _decoders ??= new SegmentDecoders(image);

    // The calls whose target is a function's start, or a PLT stub that jumps through a slot holding one of this
    // library's functions (e_sqlite3 calls its own exported functions through its PLT), by the function called.
    private Dictionary<ulong, List<ulong>> IndexCalls()
    {
        var callers = new Dictionary<ulong, List<ulong>>();
        var slots = Slots;
        foreach (var call in Sites.Direct)
        {
            var target = call.Target;
            if (Array.BinarySearch(_functions, target) < 0)
            {
                if (PltSlot(target) is not { } slot || !slots.Defined.TryGetValue(slot, out var function) || Array.BinarySearch(_functions, function) < 0)
                {
                    continue;
                }

                target = function;
            }

            if (!callers.TryGetValue(target, out var list))
            {
                callers[target] = list = [];
            }

            list.Add(call.ReturnAddress);
        }

        return callers;
    }

    private Dictionary<ulong, List<ulong>> IndexTailCalls()
    {
        var tailCallers = new Dictionary<ulong, List<ulong>>();
        foreach (var jump in Sites.Jumps)
        {
            if (Array.BinarySearch(_functions, jump.Target) >= 0 && jump.From != jump.Target)
            {
                if (!tailCallers.TryGetValue(jump.Target, out var list))
                {
                    tailCallers[jump.Target] = list = [];
                }

                if (!list.Contains(jump.From))
                {
                    list.Add(jump.From);
                }
            }
        }

        return tailCallers;
    }

    /// <summary>Decodes every function once, in address order, keeping its calls and its <c>jmp rel32</c> out of it.</summary>
    private CallSites DecodeFunctions()
    {
        var sites = new CallSites([], [], []);
        for (var i = 0; i < _functions.Length; i++)
        {
            var start = _functions[i];
            var next = i + 1 < _functions.Length ? _functions[i + 1] : ulong.MaxValue;
            if (next == start || Decoders.At(start, out var segmentEnd) is not { } decoder)
            {
                continue;
            }

            var end = Math.Min(next, segmentEnd);
            while (decoder.IP < end)
            {
                decoder.Decode(out var instruction);
                switch (instruction.Code)
                {
                    case Code.Call_rel32_64:
                        sites.Direct.Add(new DirectCall(instruction.NextIP, instruction.NearBranch64));
                        break;
                    case Code.Call_rm64:
                        sites.Indirect.Add(new IndirectCall(instruction.NextIP, instruction.IsIPRelativeMemoryOperand ? instruction.IPRelativeMemoryAddress : null));
                        break;
                    case Code.Jmp_rel32_64 when instruction.NearBranch64 < start || instruction.NearBranch64 >= end:
                        sites.Jumps.Add(new Jump(start, instruction.NearBranch64));
                        break;
                }
            }
        }

        return sites;
    }

    /// <summary>The pointer slot a PLT stub at <paramref name="stub"/> jumps through (<c>[endbr64] [bnd] jmp *slot(%rip)</c>), or null if it is none.</summary>
    // Optimized from its first call, as IoCallReturns: called for every direct call of the library.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong? PltSlot(ulong stub)
    {
        if (_stubs.TryGetValue(stub, out var known))
        {
            return known;
        }

        ulong? slot = null;
        if (Decoders.At(stub, out _) is { } decoder)
        {
            decoder.Decode(out var instruction);
            if (instruction.Code == Code.Endbr64)
            {
                decoder.Decode(out instruction);
            }

            slot = instruction is { Code: Code.Jmp_rm64, IsIPRelativeMemoryOperand: true } ? instruction.IPRelativeMemoryAddress : null;
        }

        return _stubs[stub] = slot;
    }

    /// <summary>A direct call: the address it returns to, the address it calls.</summary>
    private readonly record struct DirectCall(ulong ReturnAddress, ulong Target);

    /// <summary>An indirect call: the address it returns to, and the pointer slot it calls through when that is RIP-relative.</summary>
    private readonly record struct IndirectCall(ulong ReturnAddress, ulong? Slot);

    /// <summary>A <c>jmp rel32</c> out of a function: the function it is in, the address it jumps to.</summary>
    private readonly record struct Jump(ulong From, ulong Target);

    /// <summary>The call and jump instructions of the library's functions, each list in address order.</summary>
    private sealed record CallSites(List<DirectCall> Direct, List<IndirectCall> Indirect, List<Jump> Jumps);

    /// <summary>A 64-bit decoder per executable segment, reused: each is moved to the address asked for.</summary>
    private sealed class SegmentDecoders(ElfImage image)
    {
        private readonly (ElfImage.Segment Segment, ByteArrayCodeReader Reader, Decoder Decoder)[] _segments =
            [.. image.ExecutableSegments.Select(segment => Open(image, segment))];

        /// <summary>
        /// The decoder of the executable segment holding <paramref name="address"/>, set to decode from there, and where
        /// that segment's bytes end; null if no executable segment holds it.
        /// </summary>
        public Decoder? At(ulong address, out ulong segmentEnd)
        {
            foreach (var (segment, reader, decoder) in _segments)
            {
                if (address >= segment.Address && address - segment.Address < segment.FileSize)
                {
                    reader.Position = (int)(address - segment.Address);
                    decoder.IP = address;
                    segmentEnd = segment.Address + segment.FileSize;
                    return decoder;
                }
            }

            segmentEnd = 0;
            return null;
        }

        private static (ElfImage.Segment, ByteArrayCodeReader, Decoder) Open(ElfImage image, ElfImage.Segment segment)
        {
            var reader = new ByteArrayCodeReader(image.Bytes, checked((int)segment.Offset), checked((int)segment.FileSize));
            return (segment, reader, Decoder.Create(64, reader, segment.Address));
        }
    }
}
