using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IoTrace.Symbols.Native;

namespace IoTrace.DTrace.Script;

/// <summary>
/// Libc's unwind rules where the script reads them, by address: its caller rules (<see cref="LibcCallerRules"/>), and
/// the wrapper frames at its system call sites (<see cref="LibcUnwindTable.Sites"/>). A table in this process's memory
/// of 16-byte places {address, <see cref="UnwindRule.Packed"/>}, hashed without collisions (hash and displace:
/// an address's group gives the displacement that puts each of the group's addresses in a place of its own), so
/// that a lookup is two copyins and one comparison. A D array cannot hold the rules (a BEGIN clause that fills 8,000
/// entries is larger than a BPF program may be; one that fills libc's 500 sites took the kernel about a second to
/// verify), and probing for a place costs a branch per place in every return
/// probe, which the kernel's verifier pays for at attach: eight places per lookup took 11 s more. A group that finds
/// no displacement is left out (the walk then stops at its frames). Kept as long as the process: the script may read
/// it at any time.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class LibcRuleTable
{
    /// <summary>The table has 2^<see cref="Bits"/> places, about three times libc's 9,200 rules.</summary>
    public const int Bits = 15;

    /// <summary>The return addresses fall in 2^<see cref="GroupBits"/> groups, each with its displacement.</summary>
    public const int GroupBits = 12;

    /// <summary>The place of a return address: the top <see cref="Bits"/> bits of (address + displacement) times this (Fibonacci hashing).</summary>
    public const ulong PlaceMultiplier = 0x9e3779b97f4a7c15;

    /// <summary>The group of a return address: the top <see cref="GroupBits"/> bits of the address times this.</summary>
    public const ulong GroupMultiplier = 0xff51afd7ed558ccd;

    private const int Places = 1 << Bits;
    private const int Groups = 1 << GroupBits;

    // Displacements tried per group: with the table a third full, the first few serve.
    private const ulong DisplacementsTried = 1_024;

    private static readonly Lock s_lock = new();
    private static LibcRuleTable? s_shared;
    private static LibcRuleTable? s_sites;

    private readonly ulong* _places;

    private LibcRuleTable(ulong* places, int count)
    {
        _places = places;
        Count = count;
    }

    /// <summary>The places' address in this process, for the script's copyin.</summary>
    public nint Address => (nint)_places;

    /// <summary>The displacements' address (one 8-byte word per group), after the places.</summary>
    public nint Displacements => (nint)(_places + (2 * Places));

    /// <summary>The rules the table holds.</summary>
    public int Count { get; }

    /// <summary>The table of the libc <paramref name="libc"/> was read from, built on first use and kept.</summary>
    public static LibcRuleTable Shared(LibcUnwindTable libc)
    {
        lock (s_lock)
        {
            return s_shared ??= Create(LibcCallerRules.Find(libc, LibcCallerRules.AtMost));
        }
    }

    /// <summary>
    /// The table of the wrapper frames at the system call sites of the libc <paramref name="libc"/> was read from, by
    /// the ip the kernel saves (after the <c>syscall</c> instruction), built on first use and kept.
    /// </summary>
    public static LibcRuleTable SystemCallSites(LibcUnwindTable libc)
    {
        lock (s_lock)
        {
            return s_sites ??= Create(libc.Sites.Select(static s => (s.Ip, new UnwindRule(s.CfaOffset, s.RbpOffset, CfaFromRbp: false))));
        }
    }

    /// <summary>A table holding <paramref name="rules"/> (one per return address), those whose group finds a displacement.</summary>
    public static LibcRuleTable Create(IEnumerable<(ulong ReturnAddress, UnwindRule Rule)> rules)
    {
        // Written whole, not only zeroed: copyin cannot fault a page in, and calloc leaves a fresh mapping's pages
        // untouched, so a lookup that misses on such a page would fail in the script.
        var bytes = (nuint)((2 * Places) + Groups) * sizeof(ulong);
        var places = (ulong*)NativeMemory.Alloc(bytes);
        NativeMemory.Clear(places, bytes);
        var displacements = places + (2 * Places);
        var count = 0;

        // The largest groups first, while most places are free.
        var groups = rules.DistinctBy(r => r.ReturnAddress).GroupBy(r => Group(r.ReturnAddress)).OrderByDescending(g => g.Count());
        var taken = new int[16];
        foreach (var group in groups)
        {
            var members = group.ToArray();
            if (taken.Length < members.Length)
            {
                taken = new int[members.Length];
            }

            for (var displacement = 0UL; displacement < DisplacementsTried; displacement++)
            {
                if (AllFree(members, displacement))
                {
                    displacements[group.Key] = displacement;
                    for (var i = 0; i < members.Length; i++)
                    {
                        places[taken[i] * 2] = members[i].ReturnAddress;
                        places[(taken[i] * 2) + 1] = (ulong)members[i].Rule.Packed;
                    }

                    count += members.Length;
                    break;
                }
            }
        }

        return new LibcRuleTable(places, count);

        bool AllFree((ulong ReturnAddress, UnwindRule Rule)[] members, ulong displacement)
        {
            for (var i = 0; i < members.Length; i++)
            {
                taken[i] = Place(members[i].ReturnAddress, displacement);
                if (places[taken[i] * 2] != 0 || taken.AsSpan(0, i).Contains(taken[i]))
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>The group of <paramref name="returnAddress"/>.</summary>
    public static int Group(ulong returnAddress) => (int)((returnAddress * GroupMultiplier) >> (64 - GroupBits));

    /// <summary>The place of <paramref name="returnAddress"/> under its group's <paramref name="displacement"/>.</summary>
    public static int Place(ulong returnAddress, ulong displacement) => (int)(((returnAddress + displacement) * PlaceMultiplier) >> (64 - Bits));

    /// <summary>The rule at <paramref name="returnAddress"/>, found as the script finds it.</summary>
    public bool TryFind(ulong returnAddress, out long packed)
    {
        var place = Place(returnAddress, ((ulong*)Displacements)[Group(returnAddress)]);
        var found = _places[place * 2] == returnAddress;
        packed = found ? (long)_places[(place * 2) + 1] : 0;
        return found;
    }
}
