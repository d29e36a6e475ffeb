using System.Buffers.Binary;
using System.Globalization;

using IoTrace.Platform.Linux;

namespace IoTrace.Symbols.Native;

/// <summary>
/// How to step out of glibc's system call wrappers, at the <c>syscall</c> instructions of the libc this process
/// loaded. glibc builds them without frame pointers and some keep arguments in rbp, so a kernel-side stack walk cannot
/// start from rbp; but at a given instruction the wrapper's frame is static, and .eh_frame says how: CFA = rsp + N, the
/// return address at CFA - 8, the caller's rbp saved at CFA - M (or still in rbp). A kernel-side backend looks the syscall's
/// return ip up in this table (the eBPF program in a map, the dtrace script in an array) and starts the frame-pointer walk from the caller.
/// </summary>
internal sealed class LibcUnwindTable
{
    private LibcUnwindTable(string? path, ulong loadBias, IReadOnlyList<LibcUnwindSite> sites, int candidates, string? failure)
    {
        LibraryPath = path;
        LoadBias = loadBias;
        Sites = sites;
        Candidates = candidates;
        Failure = failure;
    }

    public static LibcUnwindTable Empty(string reason) => new(null, 0, [], 0, reason);

    public string? LibraryPath { get; }

    /// <summary>What to add to an address in the file to get the address in the process.</summary>
    public ulong LoadBias { get; }

    /// <summary>The sites whose wrapper frame is known, by ip in the process (the address after the instruction).</summary>
    public IReadOnlyList<LibcUnwindSite> Sites { get; }

    /// <summary>
    /// The <c>0f 05</c> byte pairs found in libc's code; those with no rsp-based rule, or for a system call not asked
    /// for, are not in <see cref="Sites"/>.
    /// </summary>
    public int Candidates { get; }

    /// <summary>Why the table is empty (no libc mapped, unreadable file), or null.</summary>
    public string? Failure { get; }

    /// <summary>Finds libc's code mapping in <paramref name="mapsPath"/> (a /proc/pid/maps file) and reads its file.</summary>
    /// <param name="mapsPath">The maps file of the process whose libc is read.</param>
    /// <param name="syscalls">
    /// The system call numbers to keep sites for; null keeps all. A site is left out only when the instruction before
    /// it is <c>mov $n, %eax</c> with another n: where the number is not that plain (read's <c>xor %eax, %eax</c>,
    /// the generic <c>syscall()</c>), the site stays.
    /// </param>
    public static LibcUnwindTable Load(string mapsPath, IReadOnlySet<int>? syscalls = null)
    {
        try
        {
            if (ProcessMaps.Executable(mapsPath).FirstOrDefault(m => LinuxLibraries.IsLibc(m.Path)) is { Path: not null } libc)
            {
                var image = ElfImage.Parse(File.ReadAllBytes(libc.Path));
                return image.LoadBias(libc.Start, libc.Offset) is { } bias
                    ? FromImage(image, bias, libc.Path, syscalls)
                    : Empty($"{libc.Path}: no executable segment at file offset 0x{libc.Offset:x}");
            }

            return Empty("no libc.so.6 mapped in the process");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or FormatException or OverflowException)
        {
            return Empty($"libc could not be read: {e.Message}");
        }
    }

    /// <summary>The table of <paramref name="image"/> loaded at <paramref name="loadBias"/>; see <see cref="Load"/>.</summary>
    public static LibcUnwindTable FromImage(ElfImage image, ulong loadBias, string path, IReadOnlySet<int>? syscalls = null)
    {
        if (EhFrame.Open(image) is not { } frames)
        {
            return Empty($"{path} has no .eh_frame_hdr search table");
        }

        var sites = new List<LibcUnwindSite>();
        var candidates = 0;
        foreach (var segment in image.ExecutableSegments)
        {
            var code = image.Bytes.AsSpan((int)segment.Offset, (int)segment.FileSize);
            for (var i = code.IndexOf("\u000f\u0005"u8); i >= 0; i = NextSyscall(code, i))
            {
                candidates++;
                var instruction = segment.Address + (ulong)i;
                if (syscalls is not null && i >= 5 && code[i - 5] == 0xb8 && !syscalls.Contains(BinaryPrimitives.ReadInt32LittleEndian(code[(i - 4)..i])))
                {
                    continue;
                }

                if (TryUnwind(image, frames, instruction, out var cfa, out var rbp))
                {
                    sites.Add(new LibcUnwindSite(loadBias + instruction + 2, cfa, rbp));
                }
            }
        }

        return new LibcUnwindTable(path, loadBias, sites, candidates, null);
    }

    private static int NextSyscall(ReadOnlySpan<byte> code, int previous)
    {
        var next = code[(previous + 1)..].IndexOf("\u000f\u0005"u8);
        return next < 0 ? -1 : previous + 1 + next;
    }

    /// <summary>
    /// The wrapper's frame at the instruction after the <c>syscall</c> at <paramref name="instruction"/> (where the
    /// kernel's saved ip points, and the row that holds while the call runs). False when the byte pair is not covered
    /// by an FDE, or the row is not "CFA = rsp + N, return address at CFA - 8, rbp saved in the frame or untouched":
    /// the kernel-side walk then keeps its frame-pointer search for that ip.
    /// </summary>
    private static bool TryUnwind(ElfImage image, EhFrame frames, ulong instruction, out int cfa, out int rbp)
    {
        (cfa, rbp) = (0, 0);
        if (!UnwindRule.TryAt(image, frames, instruction, instruction + 2, out var rule) || rule.CfaFromRbp)
        {
            return false;
        }

        (cfa, rbp) = (rule.CfaOffset, rule.RbpOffset);
        return true;
    }
}

/// <summary>
/// One <c>syscall</c> site: <paramref name="Ip"/> is the address after the instruction (the ip the kernel saved); the
/// wrapper's CFA is sp + <paramref name="CfaOffset"/>; the caller's rbp is saved at CFA - <paramref name="RbpOffset"/>,
/// or still in rbp when that is 0.
/// </summary>
internal readonly record struct LibcUnwindSite(ulong Ip, int CfaOffset, int RbpOffset)
{
    /// <summary>The eBPF program's map value (<see cref="UnwindRule.Packed"/>; never 0 for a site).</summary>
    public long Packed => new UnwindRule(CfaOffset, RbpOffset, CfaFromRbp: false).Packed;
}
