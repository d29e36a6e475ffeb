using System.Buffers.Binary;

namespace IoTrace.Symbols.Native;

/// <summary>
/// A cursor over an ELF image's bytes that knows the virtual address it is at (pc-relative pointers need it):
/// fixed-size integers, LEB128 and the pointer encodings of .eh_frame (DW_EH_PE_*). Reading past the segment throws.
/// </summary>
internal struct DwarfReader
{
    private readonly byte[] _bytes;
    private readonly long _addressDelta;
    private readonly int _limit;
    private int _offset;

    public DwarfReader(byte[] bytes, int offset, ulong address, int limit)
    {
        _bytes = bytes;
        _offset = offset;
        _addressDelta = (long)address - offset;
        _limit = Math.Min(limit, bytes.Length);
    }

    public readonly ulong Address => (ulong)(_offset + _addressDelta);

    public byte U8()
    {
        Need(1);
        return _bytes[_offset++];
    }

    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public ulong Uleb()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = U8();
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidDataException("LEB128 value longer than 64 bits");
    }

    public long Sleb()
    {
        long value = 0;
        var shift = 0;
        byte b;
        do
        {
            if (shift >= 64)
            {
                throw new InvalidDataException("LEB128 value longer than 64 bits");
            }

            b = U8();
            value |= (long)(b & 0x7f) << shift;
            shift += 7;
        }
        while ((b & 0x80) != 0);

        return shift < 64 && (b & 0x40) != 0 ? value | (-1L << shift) : value;
    }

    public string CString()
    {
        var end = Array.IndexOf(_bytes, (byte)0, _offset, _limit - _offset);
        if (end < 0)
        {
            throw new InvalidDataException("unterminated string");
        }

        var text = System.Text.Encoding.ASCII.GetString(_bytes, _offset, end - _offset);
        _offset = end + 1;
        return text;
    }

    public void Skip(ulong count)
    {
        if (count > (ulong)(_limit - _offset))
        {
            throw new InvalidDataException("read past the end of the segment");
        }

        _offset += (int)count;
    }

    /// <summary>
    /// A pointer in DW_EH_PE <paramref name="encoding"/>: absolute, pc-relative or relative to
    /// <paramref name="dataBase"/> (.eh_frame_hdr's address). Indirect and text/function-relative pointers are not
    /// used in .eh_frame_hdr or the FDE addresses of shared objects: they throw.
    /// </summary>
    public ulong Pointer(byte encoding, ulong dataBase)
    {
        var fieldAddress = Address;
        var value = PointerValue(encoding);
        var applied = (encoding & 0x70) switch
        {
            0x00 => value,
            0x10 => value + fieldAddress,
            0x30 => value + dataBase,
            _ => throw new InvalidDataException($"unsupported pointer application 0x{encoding:x2}"),
        };
        return (encoding & 0x80) != 0 ? throw new InvalidDataException("indirect pointers are not supported") : applied;
    }

    /// <summary>The value of a pointer in <paramref name="encoding"/>'s format, without its application (an FDE's range).</summary>
    public ulong PointerValue(byte encoding) => (encoding & 0x0f) switch
    {
        0x00 or 0x04 or 0x0c => U64(),
        0x01 => Uleb(),
        0x02 => U16(),
        0x03 => U32(),
        0x09 => (ulong)Sleb(),
        0x0a => (ulong)(long)(short)U16(),
        0x0b => (ulong)(long)(int)U32(),
        _ => throw new InvalidDataException($"unsupported pointer format 0x{encoding:x2}"),
    };

    private ReadOnlySpan<byte> Take(int count)
    {
        Need(count);
        var span = _bytes.AsSpan(_offset, count);
        _offset += count;
        return span;
    }

    private readonly void Need(int count)
    {
        if (_offset < 0 || _offset + count > _limit)
        {
            throw new InvalidDataException("read past the end of the segment");
        }
    }
}
