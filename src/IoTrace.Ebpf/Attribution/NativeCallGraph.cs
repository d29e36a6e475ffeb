using System.Buffers.Binary;
using System.Collections.Frozen;
using IoTrace.Symbols.Native;

namespace IoTrace.Ebpf.Attribution;

/// <summary>
/// A native library's call graph, read from its code: its functions (the starts of its .eh_frame FDEs), the direct
/// calls to each (<c>call rel32</c>, through a PLT stub too), its tail calls (<c>jmp rel32</c> to another function's
/// start), its indirect calls (<c>call r/m64</c>) and its calls into imported functions. What
/// <see cref="NativeUnwindRules"/> walks to find the return addresses a library's IO can have. Each index is built
/// when first asked.
/// </summary>
internal sealed class NativeCallGraph(ElfImage image, EhFrame frames)
{
    private readonly ulong[] _functions = frames.Starts();
    private readonly Dictionary<ulong, ulong?> _stubs = [];
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

    /// <summary>The return addresses of the direct calls (<c>call rel32</c>) to <paramref name="function"/>.</summary>
    public List<ulong> CallersOf(ulong function) =>
        (_callers ??= IndexCalls()).TryGetValue(function, out var callers) ? callers : [];

    /// <summary>
    /// The functions that end in a jump (<c>jmp rel32</c>) to <paramref name="function"/>: a tail call leaves no frame,
    /// so their callers' return addresses are the frames above <paramref name="function"/>'s (glibc's <c>fstat</c>
    /// jumps to <c>fstatat64</c>).
    /// </summary>
    public List<ulong> TailCallersOf(ulong function) =>
        (_tailCallers ??= IndexTailCalls()).TryGetValue(function, out var callers) ? callers : [];

    /// <summary>
    /// The return addresses of the calls into the imported functions named in <paramref name="imports"/>, through a PLT
    /// stub or a pointer slot (SQLite's table of system calls).
    /// </summary>
    public List<ulong> IoCallReturns(FrozenSet<string> imports)
    {
        var slots = Slots;
        var returns = new List<ulong>();
        if (slots.Imported.Count == 0)
        {
            return returns;
        }

        foreach (var segment in image.ExecutableSegments)
        {
            var code = image.Bytes.AsSpan((int)segment.Offset, (int)segment.FileSize);
            for (var i = 0; i + 6 <= code.Length; i++)
            {
                ulong? slot = null;
                ulong returnAddress = 0;
                if (code[i] == 0xe8)
                {
                    returnAddress = segment.Address + (ulong)i + 5;
                    slot = PltSlot(returnAddress + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code.Slice(i + 1, 4)));
                }
                else if (code[i] == 0xff && code[i + 1] == 0x15)
                {
                    // call *slot(%rip)
                    returnAddress = segment.Address + (ulong)i + 6;
                    slot = returnAddress + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code.Slice(i + 2, 4));
                }

                if (slot is { } s && slots.Imported.TryGetValue(s, out var name) && imports.Contains(name) && FunctionOf(returnAddress - 1) is not null)
                {
                    returns.Add(returnAddress);
                }
            }
        }

        return returns;
    }

    /// <summary>
    /// The return addresses of the indirect calls (<c>call *r/m64</c>: FF /2, after an optional REX prefix) inside a
    /// function, at most <paramref name="atMost"/>. Bytes that only look like one add a rule for an address that is
    /// never a return address.
    /// </summary>
    public List<ulong> IndirectCallReturns(int atMost)
    {
        var returns = new List<ulong>();
        foreach (var segment in image.ExecutableSegments)
        {
            var code = image.Bytes.AsSpan((int)segment.Offset, (int)segment.FileSize);
            for (var i = code.IndexOf((byte)0xff); i >= 0 && i + 2 < code.Length && returns.Count < atMost; i = Next(code, i, 0xff))
            {
                var modrm = code[i + 1];
                if (((modrm >> 3) & 7) != 2)
                {
                    continue;
                }

                var (mod, rm) = (modrm >> 6, modrm & 7);
                var length = 2;
                if (mod != 3 && rm == 4)
                {
                    length++;
                    if (mod == 0 && (code[i + 2] & 7) == 5)
                    {
                        length += 4;
                    }
                }

                length += mod switch { 1 => 1, 2 => 4, 0 when rm == 5 => 4, _ => 0 };
                var returnAddress = segment.Address + (ulong)(i + length);
                if (FunctionOf(returnAddress - 1) is not null)
                {
                    returns.Add(returnAddress);
                }
            }
        }

        return returns;
    }

    private ElfImage.PointerSlots Slots => _slots ??= image.GotSlots();

    // A byte E8 whose 32-bit displacement lands exactly on a function's first byte, or on a PLT stub that jumps to
    // one of this library's functions, is taken for a call: one inside another instruction that happens to do so
    // only adds a rule for an address that is never a return address.
    private Dictionary<ulong, List<ulong>> IndexCalls()
    {
        var callers = new Dictionary<ulong, List<ulong>>();
        var slots = Slots;
        foreach (var segment in image.ExecutableSegments)
        {
            var code = image.Bytes.AsSpan((int)segment.Offset, (int)segment.FileSize);
            for (var i = code.IndexOf((byte)0xe8); i >= 0 && i + 5 <= code.Length; i = Next(code, i))
            {
                var returnAddress = segment.Address + (ulong)i + 5;
                var target = returnAddress + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code.Slice(i + 1, 4));
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

                list.Add(returnAddress);
            }
        }

        return callers;
    }

    // As for calls, a byte E9 whose displacement lands exactly on a function's first byte, from another function.
    private Dictionary<ulong, List<ulong>> IndexTailCalls()
    {
        var tailCallers = new Dictionary<ulong, List<ulong>>();
        foreach (var segment in image.ExecutableSegments)
        {
            var code = image.Bytes.AsSpan((int)segment.Offset, (int)segment.FileSize);
            for (var i = code.IndexOf((byte)0xe9); i >= 0 && i + 5 <= code.Length; i = Next(code, i, 0xe9))
            {
                var jump = segment.Address + (ulong)i;
                var target = jump + 5 + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code.Slice(i + 1, 4));
                if (Array.BinarySearch(_functions, target) >= 0 && FunctionOf(jump) is { } from && from != target)
                {
                    if (!tailCallers.TryGetValue(target, out var list))
                    {
                        tailCallers[target] = list = [];
                    }

                    if (!list.Contains(from))
                    {
                        list.Add(from);
                    }
                }
            }
        }

        return tailCallers;
    }

    /// <summary>The pointer slot a PLT stub at <paramref name="stub"/> jumps through (<c>[endbr64] [bnd] jmp *slot(%rip)</c>), or null if it is none.</summary>
    private ulong? PltSlot(ulong stub)
    {
        if (_stubs.TryGetValue(stub, out var known))
        {
            return known;
        }

        var bytes = image.BytesAt(stub);
        var at = bytes.StartsWith((ReadOnlySpan<byte>)[0xf3, 0x0f, 0x1e, 0xfa]) ? 4 : 0;
        at += bytes.Length > at && bytes[at] == 0xf2 ? 1 : 0;
        ulong? slot = bytes.Length >= at + 6 && bytes[at] == 0xff && bytes[at + 1] == 0x25
            ? stub + (ulong)(at + 6) + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(at + 2, 4))
            : null;
        return _stubs[stub] = slot;
    }

    private static int Next(ReadOnlySpan<byte> code, int previous, byte value = 0xe8)
    {
        var next = code[(previous + 1)..].IndexOf(value);
        return next < 0 ? -1 : previous + 1 + next;
    }
}
