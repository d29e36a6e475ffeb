namespace IoTrace.Symbols.Native;

/// <summary>
/// Finds the FDE (frame description) covering a code address through .eh_frame_hdr's sorted search table, and
/// decodes it and its CIE: alignment factors, pointer encoding, and where their CFA instructions are.
/// </summary>
internal sealed class EhFrame
{
    // datarel | sdata4: the only table encoding binutils and lld write.
    private const byte TableEncoding = 0x3b;

    private readonly ElfImage _image;
    private readonly ulong _header;
    private readonly ulong _table;
    private readonly ulong _count;
    private ulong[]? _starts;

    private EhFrame(ElfImage image, ulong header, ulong table, ulong count)
    {
        _image = image;
        _header = header;
        _table = table;
        _count = count;
    }

    /// <summary>The image's search table, or null when it has none (no PT_GNU_EH_FRAME, no table, another encoding).</summary>
    public static EhFrame? Open(ElfImage image)
    {
        if (image.EhFrameHeader is not { } header)
        {
            return null;
        }

        var reader = image.ReaderAt(header);
        var version = reader.U8();
        var frameEncoding = reader.U8();
        var countEncoding = reader.U8();
        var tableEncoding = reader.U8();
        if (version != 1 || countEncoding == 0xff || tableEncoding != TableEncoding)
        {
            return null;
        }

        if (frameEncoding != 0xff)
        {
            _ = reader.Pointer(frameEncoding, header);
        }

        var count = reader.Pointer(countEncoding, header);
        return new EhFrame(image, header, reader.Address, count);
    }

    /// <summary>The FDE whose range holds <paramref name="address"/> (an address in the file, not the process).</summary>
    public bool TryFind(ulong address, out Fde fde)
    {
        fde = default;

        // The last entry whose initial location is at or below the address.
        var count = SortedSearch.CountAtOrBelow<ulong>(StartsOfEntries, address);
        if (count == 0)
        {
            return false;
        }

        fde = ReadFde(Entry((ulong)(count - 1)).Fde);
        return address >= fde.Start && address < fde.End;
    }

    /// <summary>Where each FDE's range starts (file addresses, ascending as the search table keeps them): the functions.</summary>
    public ulong[] Starts() => [.. StartsOfEntries];

    /// <summary>The table's initial locations, read once.</summary>
    private ulong[] StartsOfEntries => _starts ??= ReadStarts();

    private ulong[] ReadStarts()
    {
        var starts = new ulong[_count];
        for (ulong i = 0; i < _count; i++)
        {
            starts[i] = Entry(i).Start;
        }

        return starts;
    }

    private (ulong Start, ulong Fde) Entry(ulong index)
    {
        var reader = _image.ReaderAt(_table + (index * 8));
        var start = reader.Pointer(TableEncoding, _header);
        var fde = reader.Pointer(TableEncoding, _header);
        return (start, fde);
    }

    private Fde ReadFde(ulong address)
    {
        var reader = _image.ReaderAt(address);
        var end = EntryEnd(ref reader);
        var cieField = reader.Address;
        var ciePointer = reader.U32();
        if (ciePointer == 0)
        {
            throw new InvalidDataException($"0x{address:x} is a CIE, not an FDE");
        }

        var cie = ReadCie(cieField - ciePointer);
        var start = reader.Pointer(cie.PointerEncoding, _header);
        var range = reader.PointerValue(cie.PointerEncoding);
        if (cie.HasAugmentationData)
        {
            reader.Skip(reader.Uleb());
        }

        return new Fde(start, start + range, cie, reader.Address, end);
    }

    private Cie ReadCie(ulong address)
    {
        var reader = _image.ReaderAt(address);
        var end = EntryEnd(ref reader);
        if (reader.U32() != 0)
        {
            throw new InvalidDataException($"0x{address:x} is not a CIE");
        }

        var version = reader.U8();
        var augmentation = reader.CString();
        if (augmentation.Contains("eh", StringComparison.Ordinal))
        {
            reader.Skip(8);
        }

        var codeAlignment = reader.Uleb();
        var dataAlignment = reader.Sleb();
        var returnRegister = version == 1 ? reader.U8() : reader.Uleb();
        byte encoding = 0;
        var hasData = augmentation.StartsWith('z');
        if (hasData)
        {
            var length = reader.Uleb();
            var dataEnd = reader.Address + length;
            foreach (var letter in augmentation.AsSpan(1))
            {
                if (letter == 'R')
                {
                    encoding = reader.U8();
                }
                else if (letter == 'P')
                {
                    _ = reader.PointerValue(reader.U8());
                }
                else if (letter == 'L')
                {
                    _ = reader.U8();
                }
                else if (letter is not ('S' or 'B' or 'G'))
                {
                    break;
                }
            }

            reader.Skip(dataEnd - reader.Address);
        }

        return new Cie(codeAlignment, dataAlignment, returnRegister, encoding, hasData, reader.Address, end);
    }

    /// <summary>Reads an entry's length (32-bit, or 64-bit after 0xffffffff) and returns the address it ends at.</summary>
    private static ulong EntryEnd(ref DwarfReader reader)
    {
        ulong length = reader.U32();
        if (length == 0xffffffff)
        {
            length = reader.U64();
        }

        if (length == 0)
        {
            throw new InvalidDataException("the terminator, not an entry");
        }

        return reader.Address + length;
    }
}

/// <summary>A CIE: what its FDEs share, and its initial CFA instructions ([InstructionsStart, InstructionsEnd)).</summary>
internal readonly record struct Cie(
    ulong CodeAlignment,
    long DataAlignment,
    ulong ReturnRegister,
    byte PointerEncoding,
    bool HasAugmentationData,
    ulong InstructionsStart,
    ulong InstructionsEnd);

/// <summary>An FDE: the code range [Start, End) it describes, its CIE and its own CFA instructions.</summary>
internal readonly record struct Fde(ulong Start, ulong End, Cie Cie, ulong InstructionsStart, ulong InstructionsEnd);
