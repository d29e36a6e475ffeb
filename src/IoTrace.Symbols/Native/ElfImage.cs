using System.Buffers.Binary;

namespace IoTrace.Symbols.Native;

/// <summary>
/// A 64-bit little-endian ELF shared object read whole, seen through its program headers (the view the loader has,
/// which stays valid in stripped files): loaded segments, their virtual addresses and the .eh_frame_hdr segment.
/// </summary>
internal sealed class ElfImage
{
    private const uint PtLoad = 1;
    private const uint PtDynamic = 2;
    private const uint PtGnuEhFrame = 0x6474e550;
    private const uint PfExecute = 1;

    private readonly Segment[] _loads;

    private ElfImage(byte[] bytes, Segment[] loads, ulong? ehFrameHeader, ulong? dynamic = null)
    {
        Bytes = bytes;
        _loads = loads;
        EhFrameHeader = ehFrameHeader;
        Dynamic = dynamic;
    }

    public byte[] Bytes { get; }

    /// <summary>The virtual address of .eh_frame_hdr (PT_GNU_EH_FRAME), if the file has one.</summary>
    public ulong? EhFrameHeader { get; }

    /// <summary>The virtual address of the dynamic section (PT_DYNAMIC), if the file has one.</summary>
    public ulong? Dynamic { get; }

    /// <summary>The loaded segments with code in them.</summary>
    public IEnumerable<Segment> ExecutableSegments => _loads.Where(s => (s.Flags & PfExecute) != 0);

    /// <summary>Parses the header and program headers of <paramref name="bytes"/>.</summary>
    /// <exception cref="InvalidDataException">Not a 64-bit little-endian x86_64 ELF file, or a header points outside it.</exception>
    public static ElfImage Parse(byte[] bytes)
    {
        var span = bytes.AsSpan();
        if (span.Length < 64 || !span[..4].SequenceEqual("\u007fELF"u8) || span[4] != 2 || span[5] != 1)
        {
            throw new InvalidDataException("not a 64-bit little-endian ELF file");
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(span[18..]) != 62)
        {
            throw new InvalidDataException("not an x86_64 ELF file");
        }

        var phoff = BinaryPrimitives.ReadUInt64LittleEndian(span[32..]);
        var phentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[54..]);
        var phnum = BinaryPrimitives.ReadUInt16LittleEndian(span[56..]);
        if (phentsize < 56 || phoff + ((ulong)phentsize * phnum) > (ulong)span.Length)
        {
            throw new InvalidDataException("program headers outside the file");
        }

        var loads = new List<Segment>();
        ulong? ehFrameHeader = null;
        ulong? dynamic = null;
        for (var i = 0; i < phnum; i++)
        {
            var header = span[(int)(phoff + ((ulong)i * phentsize))..];
            var type = BinaryPrimitives.ReadUInt32LittleEndian(header);
            var segment = new Segment(
                BinaryPrimitives.ReadUInt32LittleEndian(header[4..]),
                BinaryPrimitives.ReadUInt64LittleEndian(header[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(header[16..]),
                BinaryPrimitives.ReadUInt64LittleEndian(header[32..]));
            if (type == PtLoad)
            {
                if (segment.Offset + segment.FileSize > (ulong)span.Length)
                {
                    throw new InvalidDataException("a loaded segment ends outside the file");
                }

                loads.Add(segment);
            }
            else if (type == PtGnuEhFrame)
            {
                ehFrameHeader = segment.Address;
            }
            else if (type == PtDynamic)
            {
                dynamic = segment.Address;
            }
        }

        return new ElfImage(bytes, [.. loads], ehFrameHeader, dynamic);
    }

    /// <summary>
    /// What the image's relocated pointer slots hold, by slot address, from the dynamic section's R_X86_64_JUMP_SLOT,
    /// R_X86_64_GLOB_DAT and R_X86_64_64 relocations and the dynamic symbols they name: the functions this image defines
    /// (its calls to its own exported functions go through PLT stubs that jump through such a slot: e_sqlite3's
    /// <c>call sqlite3_step@plt</c>), and the names of those it imports (<c>open64</c>, or <c>pread64</c> in SQLite's
    /// table of system calls). Empty without a dynamic section.
    /// </summary>
    /// <exception cref="InvalidDataException">The dynamic section points outside the file.</exception>
    public PointerSlots GotSlots()
    {
        var slots = new PointerSlots([], []);
        if (Dynamic is not { } dynamic)
        {
            return slots;
        }

        ulong pltRelocations = 0, pltSize = 0, relocations = 0, size = 0, symbols = 0, strings = 0, symbolSize = 24;
        var reader = ReaderAt(dynamic);
        for (var tag = reader.U64(); tag != 0; tag = reader.U64())
        {
            var value = reader.U64();
            switch (tag)
            {
                case 2: pltSize = value; break; // DT_PLTRELSZ
                case 5: strings = value; break; // DT_STRTAB
                case 6: symbols = value; break; // DT_SYMTAB
                case 7: relocations = value; break; // DT_RELA
                case 8: size = value; break; // DT_RELASZ
                case 11: symbolSize = value; break; // DT_SYMENT
                case 23: pltRelocations = value; break; // DT_JMPREL
            }
        }

        if (symbols == 0 || symbolSize < 24)
        {
            return slots;
        }

        foreach (var (table, tableSize) in (ReadOnlySpan<(ulong, ulong)>)[(pltRelocations, pltSize), (relocations, size)])
        {
            for (ulong entry = 0; table != 0 && entry + 24 <= tableSize; entry += 24)
            {
                var rela = ReaderAt(table + entry);
                var slot = rela.U64();
                var info = rela.U64();
                if ((info & 0xffffffff) is not (1 or 6 or 7) || (info >> 32) == 0) // R_X86_64_64, GLOB_DAT, JUMP_SLOT against a symbol
                {
                    continue;
                }

                var symbol = ReaderAt(symbols + ((info >> 32) * symbolSize));
                var name = symbol.U32();
                symbol.Skip(2);
                var section = symbol.U16();
                var address = symbol.U64();
                if (section != 0 && address != 0)
                {
                    slots.Defined[slot] = address;
                }
                else if (section == 0 && strings != 0 && name != 0)
                {
                    var text = BytesAt(strings + name);
                    slots.Imported[slot] = System.Text.Encoding.ASCII.GetString(text[..Math.Max(0, text.IndexOf((byte)0))]);
                }
            }
        }

        return slots;
    }

    /// <summary>The file bytes at virtual address <paramref name="address"/>, to the end of its segment's file bytes; empty if none holds it.</summary>
    public ReadOnlySpan<byte> BytesAt(ulong address)
    {
        foreach (var segment in _loads)
        {
            if (address >= segment.Address && address < segment.Address + segment.FileSize)
            {
                return Bytes.AsSpan((int)(segment.Offset + (address - segment.Address)), (int)(segment.FileSize - (address - segment.Address)));
            }
        }

        return [];
    }

    /// <summary>A reader at virtual address <paramref name="address"/>, bounded by the end of its segment's file bytes.</summary>
    /// <exception cref="InvalidDataException">No loaded segment holds the address in the file.</exception>
    public DwarfReader ReaderAt(ulong address)
    {
        foreach (var segment in _loads)
        {
            if (address >= segment.Address && address < segment.Address + segment.FileSize)
            {
                return new DwarfReader(Bytes, (int)(segment.Offset + (address - segment.Address)), address, (int)(segment.Offset + segment.FileSize));
            }
        }

        throw new InvalidDataException($"address 0x{address:x} is not in the file");
    }

    /// <summary>The load address of the image, given a mapping of it: where it starts and which file offset it maps.</summary>
    /// <returns>Null when no executable segment covers that offset.</returns>
    public ulong? LoadBias(ulong mappingStart, ulong mappingOffset)
    {
        foreach (var segment in ExecutableSegments)
        {
            // The loader maps whole pages: the mapping starts at the page holding the segment's first byte.
            var pageOffset = segment.Offset & ~0xfffUL;
            if (mappingOffset >= pageOffset && mappingOffset < segment.Offset + segment.FileSize)
            {
                return mappingStart - mappingOffset - (segment.Address - segment.Offset);
            }
        }

        return null;
    }

    /// <summary>Relocated pointer slots: to functions the image defines (their addresses), and to imported ones (their names).</summary>
    internal sealed record PointerSlots(Dictionary<ulong, ulong> Defined, Dictionary<ulong, string> Imported);

    /// <summary>A PT_LOAD program header: flags, file offset, virtual address, size in the file.</summary>
    internal readonly record struct Segment(uint Flags, ulong Offset, ulong Address, ulong FileSize);
}
