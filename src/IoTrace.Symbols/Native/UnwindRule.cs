

namespace IoTrace.Symbols.Native;

/// <summary>
/// How a kernel-side walk steps out of a frame of code built without frame pointers, at one instruction, as .eh_frame says:
/// CFA = rsp (or rbp) + <see cref="CfaOffset"/>, the return address at CFA - 8, the caller's rbp saved at
/// CFA - <see cref="RbpOffset"/> (or still in rbp when that is 0).
/// </summary>
internal readonly record struct UnwindRule(int CfaOffset, int RbpOffset, bool CfaFromRbp)
{
    /// <summary>Set in <see cref="Packed"/>'s low word when the CFA is rbp-based.</summary>
    public const long CfaFromRbpBit = 0x80000000;

    /// <summary>The eBPF program's map value: CFA offset in the low 31 bits (bit 31: from rbp), rbp's offset in the high word.</summary>
    public long Packed => (long)(uint)CfaOffset | (CfaFromRbp ? CfaFromRbpBit : 0) | ((long)RbpOffset << 32);

    /// <summary>
    /// The rule of the row that holds at <paramref name="rowAddress"/>, in the FDE that covers <paramref name="lookupAddress"/>
    /// (addresses in the file). False when no FDE covers it, or the row is none the walk can follow: a CFA that is an
    /// expression or based on another register, a return address not at CFA - 8, rbp saved elsewhere than in the frame.
    /// </summary>
    public static bool TryAt(ElfImage image, EhFrame frames, ulong lookupAddress, ulong rowAddress, out UnwindRule rule)
    {
        rule = default;
        try
        {
            if (!frames.TryFind(lookupAddress, out var fde) || rowAddress < fde.Start || rowAddress >= fde.End)
            {
                return false;
            }

            var row = new DwarfCfa(image, fde).RowAt(rowAddress);
            if (row.CfaIsExpression || (row.CfaRegister != DwarfCfa.Rsp && row.CfaRegister != DwarfCfa.Rbp)
                || row.CfaOffset < 8 || row.CfaOffset > 0x10000 || (row.CfaOffset & 7) != 0
                || row.ReturnAddress != RegisterRule.AtCfa(-8))
            {
                return false;
            }

            var rbp = 0;
            switch (row.Rbp.Kind)
            {
                case RuleKind.Unspecified or RuleKind.SameValue:
                    // rbp as the CFA's base is a frame pointer: its caller's value must be in the frame.
                    if (row.CfaRegister == DwarfCfa.Rbp)
                    {
                        return false;
                    }

                    break;
                case RuleKind.Offset when row.Rbp.Offset < -8 && -row.Rbp.Offset <= row.CfaOffset:
                    rbp = (int)-row.Rbp.Offset;
                    break;
                default:
                    return false;
            }

            rule = new UnwindRule((int)row.CfaOffset, rbp, row.CfaRegister == DwarfCfa.Rbp);
            return true;
        }
        catch (InvalidDataException)
        {
            // A malformed or unsupported entry: that ip keeps no rule.
            return false;
        }
    }
}
