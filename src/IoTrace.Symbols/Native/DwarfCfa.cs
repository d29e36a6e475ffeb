namespace IoTrace.Symbols.Native;

/// <summary>
/// A DWARF call frame (CFA) interpreter for the instructions GCC and glibc's assembly emit: it runs a CIE's initial
/// instructions and then an FDE's up to a code address, and returns the unwind row in effect there (how to find the
/// CFA, where the return address and rbp are). Expression rules are recognised but not evaluated.
/// </summary>
internal sealed class DwarfCfa
{
    /// <summary>DWARF register numbers on x86_64.</summary>
    public const int Rbp = 6;
    public const int Rsp = 7;
    public const int ReturnAddress = 16;

    private readonly ElfImage _image;
    private readonly Fde _fde;
    private readonly Stack<(ulong Register, long Offset, bool Expression, Dictionary<ulong, RegisterRule> Rules)> _remembered = new();
    private Dictionary<ulong, RegisterRule> _initial = [];
    private Dictionary<ulong, RegisterRule> _rules = [];
    private ulong _cfaRegister;
    private long _cfaOffset;
    private bool _cfaExpression;

    public DwarfCfa(ElfImage image, Fde fde)
    {
        _image = image;
        _fde = fde;
    }

    /// <summary>The row for the instruction at <paramref name="address"/> (the state before it executes).</summary>
    /// <exception cref="InvalidDataException">An instruction this interpreter does not know, or a malformed one.</exception>
    public CfaRow RowAt(ulong address)
    {
        if (address < _fde.Start || address >= _fde.End)
        {
            throw new ArgumentOutOfRangeException(nameof(address), "outside the FDE");
        }

        _remembered.Clear();
        _rules = [];
        _cfaRegister = 0;
        _cfaOffset = 0;
        _cfaExpression = false;
        Run(_fde.Cie.InstructionsStart, _fde.Cie.InstructionsEnd, ulong.MaxValue);
        _initial = new Dictionary<ulong, RegisterRule>(_rules);
        Run(_fde.InstructionsStart, _fde.InstructionsEnd, address);
        return new CfaRow(_cfaRegister, _cfaOffset, _cfaExpression, Rule(Rbp), Rule(ReturnAddress));
    }

    private RegisterRule Rule(ulong register) => _rules.TryGetValue(register, out var rule) ? rule : default;

    /// <summary>Executes instructions in [start, end) until the location would pass <paramref name="target"/>.</summary>
    private void Run(ulong start, ulong end, ulong target)
    {
        var cie = _fde.Cie;
        var reader = _image.ReaderAt(start);
        var location = _fde.Start;
        while (reader.Address < end)
        {
            var opcode = reader.U8();
            ulong? advance = null;
            switch (opcode >> 6)
            {
                case 1: // DW_CFA_advance_loc
                    advance = (ulong)(opcode & 0x3f) * cie.CodeAlignment;
                    break;
                case 2: // DW_CFA_offset
                    _rules[(ulong)(opcode & 0x3f)] = RegisterRule.AtCfa((long)reader.Uleb() * cie.DataAlignment);
                    break;
                case 3: // DW_CFA_restore
                    Restore((ulong)(opcode & 0x3f));
                    break;
                default:
                    advance = Extended(opcode, ref reader, ref location);
                    break;
            }

            if (advance is { } delta)
            {
                if (location + delta > target)
                {
                    return;
                }

                location += delta;
            }
        }
    }

    /// <summary>The opcodes with no operand in their low bits; returns an advance of the location, if any.</summary>
    private ulong? Extended(byte opcode, ref DwarfReader reader, ref ulong location)
    {
        var cie = _fde.Cie;
        switch (opcode)
        {
            case 0x00: // DW_CFA_nop
                return null;
            case 0x01: // DW_CFA_set_loc
                var next = reader.Pointer(cie.PointerEncoding, 0);
                return next >= location ? next - location : throw new InvalidDataException("DW_CFA_set_loc moved backwards");
            case 0x02: // DW_CFA_advance_loc1
                return reader.U8() * cie.CodeAlignment;
            case 0x03: // DW_CFA_advance_loc2
                return reader.U16() * cie.CodeAlignment;
            case 0x04: // DW_CFA_advance_loc4
                return reader.U32() * cie.CodeAlignment;
            case 0x05: // DW_CFA_offset_extended
                var register = reader.Uleb();
                _rules[register] = RegisterRule.AtCfa((long)reader.Uleb() * cie.DataAlignment);
                return null;
            case 0x06: // DW_CFA_restore_extended
                Restore(reader.Uleb());
                return null;
            case 0x07: // DW_CFA_undefined
                _rules[reader.Uleb()] = new RegisterRule(RuleKind.Undefined, 0);
                return null;
            case 0x08: // DW_CFA_same_value
                _rules[reader.Uleb()] = new RegisterRule(RuleKind.SameValue, 0);
                return null;
            case 0x09: // DW_CFA_register
                _rules[reader.Uleb()] = new RegisterRule(RuleKind.Other, 0);
                _ = reader.Uleb();
                return null;
            case 0x0a: // DW_CFA_remember_state
                _remembered.Push((_cfaRegister, _cfaOffset, _cfaExpression, new Dictionary<ulong, RegisterRule>(_rules)));
                return null;
            case 0x0b: // DW_CFA_restore_state
                if (!_remembered.TryPop(out var state))
                {
                    throw new InvalidDataException("DW_CFA_restore_state without a remembered state");
                }

                (_cfaRegister, _cfaOffset, _cfaExpression, _rules) = state;
                return null;
            case 0x0c: // DW_CFA_def_cfa
                _cfaRegister = reader.Uleb();
                _cfaOffset = (long)reader.Uleb();
                _cfaExpression = false;
                return null;
            case 0x0d: // DW_CFA_def_cfa_register
                _cfaRegister = reader.Uleb();
                _cfaExpression = false;
                return null;
            case 0x0e: // DW_CFA_def_cfa_offset
                _cfaOffset = (long)reader.Uleb();
                return null;
            case 0x0f: // DW_CFA_def_cfa_expression
                reader.Skip(reader.Uleb());
                _cfaExpression = true;
                return null;
            case 0x10: // DW_CFA_expression
            case 0x16: // DW_CFA_val_expression
                _rules[reader.Uleb()] = new RegisterRule(RuleKind.Other, 0);
                reader.Skip(reader.Uleb());
                return null;
            case 0x11: // DW_CFA_offset_extended_sf
                var signedRegister = reader.Uleb();
                _rules[signedRegister] = RegisterRule.AtCfa(reader.Sleb() * cie.DataAlignment);
                return null;
            case 0x12: // DW_CFA_def_cfa_sf
                _cfaRegister = reader.Uleb();
                _cfaOffset = reader.Sleb() * cie.DataAlignment;
                _cfaExpression = false;
                return null;
            case 0x13: // DW_CFA_def_cfa_offset_sf
                _cfaOffset = reader.Sleb() * cie.DataAlignment;
                return null;
            case 0x14: // DW_CFA_val_offset
            case 0x15: // DW_CFA_val_offset_sf
                _rules[reader.Uleb()] = new RegisterRule(RuleKind.Other, 0);
                _ = opcode == 0x14 ? (long)reader.Uleb() : reader.Sleb();
                return null;
            case 0x2e: // DW_CFA_GNU_args_size: for unwinding through a call with pushed arguments; no rule.
                _ = reader.Uleb();
                return null;
            case 0x2f: // DW_CFA_GNU_negative_offset_extended
                var negativeRegister = reader.Uleb();
                _rules[negativeRegister] = RegisterRule.AtCfa(-(long)reader.Uleb() * cie.DataAlignment);
                return null;
            default:
                throw new InvalidDataException($"unknown CFA instruction 0x{opcode:x2}");
        }
    }

    private void Restore(ulong register)
    {
        if (_initial.TryGetValue(register, out var rule))
        {
            _rules[register] = rule;
        }
        else
        {
            _rules.Remove(register);
        }
    }
}

/// <summary>How a register of the caller is recovered; <see cref="RuleKind.Unspecified"/> (no rule) means unchanged.</summary>
internal enum RuleKind
{
    Unspecified,
    Undefined,
    SameValue,

    /// <summary>Saved in memory at CFA + offset.</summary>
    Offset,

    /// <summary>In another register, or computed: not used by the stack walk.</summary>
    Other,
}

internal readonly record struct RegisterRule(RuleKind Kind, long Offset)
{
    public static RegisterRule AtCfa(long offset) => new(RuleKind.Offset, offset);
}

/// <summary>One unwind row: CFA = register + offset (unless an expression), and the rules for rbp and the return address.</summary>
internal readonly record struct CfaRow(ulong CfaRegister, long CfaOffset, bool CfaIsExpression, RegisterRule Rbp, RegisterRule ReturnAddress);
