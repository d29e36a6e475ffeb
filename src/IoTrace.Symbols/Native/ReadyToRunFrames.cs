using System.Collections.Immutable;
using System.Reflection.PortableExecutable;

namespace IoTrace.Symbols.Native;

/// <summary>
/// The x64 unwind information of a ReadyToRun assembly's precompiled code: which functions keep no frame pointer,
/// and how big their frame is. A frame-pointer walk skips such a function's caller (its return address sits in the
/// frameless frame, which no rbp points to); a kernel-side walk can step through it with the frame size. The function table is read once per assembly (12 bytes
/// a function); a function's unwind information, from the file when asked.
/// </summary>
internal sealed class ReadyToRunFrames
{
    private const uint ReadyToRunSignature = 0x00525452; // "RTR"
    private const int RuntimeFunctionsSection = 102;
    private const int UnwindFlagChainInfo = 4;
    private const int Rbp = 5;
    private const ushort LinuxMachineOverride = 0x7B79;

    // Each function's RVA range (sorted, as the table keeps them) and the RVA of its unwind information.
    private readonly AddressRanges _functions;
    private readonly uint[] _unwind;
    private readonly string _path;
    private readonly ImmutableArray<SectionHeader> _sections;

    private ReadyToRunFrames((ulong, ulong)[] functions, uint[] unwind, string path, ImmutableArray<SectionHeader> sections)
    {
        _functions = new AddressRanges(functions);
        _unwind = unwind;
        _path = path;
        _sections = sections;
    }

    /// <summary>The assembly's precompiled functions, or null when it has none (not ReadyToRun, not x64, unreadable).</summary>
    public static ReadyToRunFrames? TryOpen(string path)
    {
        try
        {
            using var file = File.OpenHandle(path);
            ImmutableArray<SectionHeader> sections;
            DirectoryEntry native;
            using (var pe = new PEReader(new FileStream(file, FileAccess.Read, bufferSize: 0), PEStreamOptions.LeaveOpen))
            {
                var headers = pe.PEHeaders;

                // Precompiled for Linux, the machine is x64's XOR the OS's mark (0x7B79), so no Windows loader takes it.
                if (((ushort)headers.CoffHeader.Machine is not (ushort)Machine.Amd64 and not ((ushort)Machine.Amd64 ^ LinuxMachineOverride))
                    || headers.CorHeader is not { ManagedNativeHeaderDirectory: { Size: > 0 } directory })
                {
                    return null;
                }

                (sections, native) = (headers.SectionHeaders, directory);
            }

            var header = ReadAt(file, sections, native.RelativeVirtualAddress, 16);
            if (BitConverter.ToUInt32(header) != ReadyToRunSignature)
            {
                return null;
            }

            var count = BitConverter.ToInt32(header, 12);
            var table = ReadAt(file, sections, native.RelativeVirtualAddress + 16, count * 12);
            for (var i = 0; i < count; i++)
            {
                if (BitConverter.ToInt32(table, i * 12) != RuntimeFunctionsSection)
                {
                    continue;
                }

                var raw = ReadAt(file, sections, BitConverter.ToInt32(table, (i * 12) + 4), BitConverter.ToInt32(table, (i * 12) + 8));
                var functions = new (ulong, ulong)[raw.Length / 12];
                var unwind = new uint[functions.Length];
                for (var f = 0; f < functions.Length; f++)
                {
                    functions[f] = (BitConverter.ToUInt32(raw, f * 12), BitConverter.ToUInt32(raw, (f * 12) + 4));
                    unwind[f] = BitConverter.ToUInt32(raw, (f * 12) + 8);
                }

                return new ReadyToRunFrames(functions, unwind, path, sections);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or BadImageFormatException or ArgumentException or InvalidOperationException)
        {
            // Unreadable: its frames are walked by frame pointer only, as before.
        }

        return null;
    }

    /// <summary>Like <see cref="TryGetFramelessFrame"/>, for the file offset a mapping of the file puts there.</summary>
    public bool TryGetFramelessFrameAtFileOffset(ulong fileOffset, out int cfaOffset)
    {
        foreach (var section in _sections)
        {
            if (fileOffset >= (ulong)section.PointerToRawData && fileOffset < (ulong)(section.PointerToRawData + section.SizeOfRawData))
            {
                return TryGetFramelessFrame((uint)(fileOffset - (ulong)section.PointerToRawData + (ulong)section.VirtualAddress), out cfaOffset);
            }
        }

        cfaOffset = 0;
        return false;
    }

    /// <summary>
    /// For the instruction at <paramref name="rva"/> (a call's, the byte before its return address): whether its function keeps no frame pointer and leaves rbp
    /// alone, and then its CFA offset from rsp after its prolog (8 for the return address, plus its pushes and
    /// allocations). False for a function with a frame pointer (the walk needs nothing), one that saves rbp (it may
    /// use it as a register), or chained unwind information (a funclet or a cold part).
    /// </summary>
    public bool TryGetFramelessFrame(uint rva, out int cfaOffset)
    {
        cfaOffset = 0;
        var index = _functions.IndexOf(rva);
        if (index < 0)
        {
            return false;
        }

        try
        {
            using var file = File.OpenHandle(_path);
            return TryRead(ReadAt(file, _sections, (int)_unwind[index], 4 + (255 * 2)), out cfaOffset);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or BadImageFormatException)
        {
            return false;
        }
    }

    /// <summary>Decodes an x64 UNWIND_INFO (its header, then its codes, in reverse prolog order).</summary>
    internal static bool TryRead(ReadOnlySpan<byte> info, out int cfaOffset)
    {
        cfaOffset = 0;
        var flags = info[0] >> 3;
        var codes = info[2];
        var frameRegister = info[3] & 0xf;
        if ((info[0] & 7) is not (1 or 2) || (flags & UnwindFlagChainInfo) != 0 || frameRegister != 0 || info.Length < 4 + (codes * 2))
        {
            return false;
        }

        var size = 8;
        for (var i = 0; i < codes; i++)
        {
            var operation = info[4 + (i * 2) + 1] & 0xf;
            var operand = info[4 + (i * 2) + 1] >> 4;
            switch (operation)
            {
                case 0: // UWOP_PUSH_NONVOL
                    if (operand == Rbp)
                    {
                        return false;
                    }

                    size += 8;
                    break;
                case 1 when operand == 0: // UWOP_ALLOC_LARGE, size / 8 in the next slot
                    size += BitConverter.ToUInt16(info[(4 + ((i + 1) * 2))..]) * 8;
                    i++;
                    break;
                case 1: // UWOP_ALLOC_LARGE, size in the next two slots
                    size += (int)BitConverter.ToUInt32(info[(4 + ((i + 1) * 2))..]);
                    i += 2;
                    break;
                case 2: // UWOP_ALLOC_SMALL
                    size += (operand * 8) + 8;
                    break;
                case 4: // UWOP_SAVE_NONVOL: a register stored in the frame, rsp unchanged
                case 8: // UWOP_SAVE_XMM128
                    if (operation == 4 && operand == Rbp)
                    {
                        return false;
                    }

                    i++;
                    break;
                case 5: // UWOP_SAVE_NONVOL_FAR
                case 9: // UWOP_SAVE_XMM128_FAR
                    if (operation == 5 && operand == Rbp)
                    {
                        return false;
                    }

                    i += 2;
                    break;
                default: // UWOP_SET_FPREG with no frame register, UWOP_PUSH_MACHFRAME, unknown: no rule
                    return false;
            }
        }

        cfaOffset = size;
        return true;
    }

    private static byte[] ReadAt(Microsoft.Win32.SafeHandles.SafeFileHandle file, ImmutableArray<SectionHeader> sections, int rva, int length)
    {
        foreach (var section in sections)
        {
            if (rva >= section.VirtualAddress && rva < section.VirtualAddress + Math.Max(section.VirtualSize, section.SizeOfRawData))
            {
                var buffer = new byte[length];
                var read = RandomAccess.Read(file, buffer, section.PointerToRawData + (long)(rva - section.VirtualAddress));
                return read == length ? buffer : buffer[..read];
            }
        }

        throw new BadImageFormatException($"RVA 0x{rva:x} is in no section");
    }
}
