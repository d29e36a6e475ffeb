using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using IoTrace.Symbols.Native;
using IoTrace.Ebpf.Kernel;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Symbols.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests.Kernel;

/// <summary>
/// The unwind table of this machine's libc, checked against binutils: readelf's interpretation of .eh_frame
/// (<c>--debug-dump=frames-interp</c>) for the frame rows, objdump's disassembly for where the syscall instructions are.
/// </summary>
public sealed partial class LibcUnwindTableTests
{
    [Fact]
    public void Load_EverySite_MatchesReadelfRowAfterTheInstruction()
    {
        Requires.Linux();
        var table = LibcUnwindTable.Load("/proc/self/maps");
        var readelf = Binutils.ReadelfFrames.Of(table.LibraryPath!);

        Assert.Null(table.Failure);
        Assert.NotEmpty(table.Sites);
        Assert.All(table.Sites, site =>
        {
            var row = readelf.RowAfterInstruction(site.Ip - table.LoadBias - 2);
            Assert.NotNull(row);
            Assert.Equal(
                ($"rsp+{site.CfaOffset}", "c-8", site.RbpOffset == 0 ? "u" : $"c-{site.RbpOffset}"),
                (row.Value.Cfa, row.Value.ReturnAddress, row.Value.Rbp));
        });
    }

    [Fact]
    public void Load_EverySyscallInstructionInAnRspFrame_IsASite()
    {
        Requires.Linux();
        var table = LibcUnwindTable.Load("/proc/self/maps");
        var readelf = Binutils.ReadelfFrames.Of(table.LibraryPath!);
        var instructions = SyscallInstructions(table.LibraryPath!);

        // The frames the BPF walk can step out of: CFA from rsp, return address at CFA-8, rbp saved or untouched.
        var expected = instructions
            .Where(a => readelf.RowAfterInstruction(a) is { } row && row.Cfa.StartsWith("rsp+", StringComparison.Ordinal) && row.ReturnAddress == "c-8" && (row.Rbp == "u" || row.Rbp.StartsWith("c-", StringComparison.Ordinal)))
            .Select(a => table.LoadBias + a + 2)
            .ToList();
        var sites = table.Sites.Select(s => s.Ip).ToHashSet();

        Assert.True(expected.Count > instructions.Count / 2, $"{expected.Count} of {instructions.Count} syscall instructions are in rsp-based frames");
        Assert.Subset(sites, expected.ToHashSet());
    }

    [Fact]
    public void Current_Open64_StepsOutThroughTheSavedRbp()
    {
        Requires.Linux();

        // glibc 2.36 (Debian 12), checked with objdump -d and readelf -wF: open64 pushes rbp (it keeps the path in
        // rbp across the call) and rbx, reserves 0x68 bytes, and has two syscall instructions (single- and
        // multi-threaded paths); after each, CFA = rsp+128 and the caller's rbp is at CFA-16.
        Assert.Equal([(128, 16), (128, 16)], SitesIn(KernelProgram.LibcSites, "open64"));
    }

    [Fact]
    public void Current_SystemCallsNotCounted_AreLeftOut()
    {
        Requires.Linux();
        var all = LibcUnwindTable.Load("/proc/self/maps");
        var current = KernelProgram.LibcSites;

        // getpid is "mov $39, %eax; syscall", a call the program does not count. read sets its number with
        // "xor %eax, %eax", not a plain mov: its two sites (single-threaded, cancellable) stay. Both keep no frame.
        Assert.Equal([(8, 0)], SitesIn(all, "getpid"));
        Assert.Empty(SitesIn(current, "getpid"));
        Assert.Equal([(8, 0), (48, 0)], SitesIn(current, "read"));
        Assert.Subset(all.Sites.ToHashSet(), current.Sites.ToHashSet());
    }

    /// <summary>The (CFA offset, rbp offset) of the sites inside the libc function exported as <paramref name="name"/>.</summary>
    private static List<(int Cfa, int Rbp)> SitesIn(LibcUnwindTable table, string name)
    {
        var start = (ulong)NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), name);
        var function = Binutils.ReadelfFrames.Of(table.LibraryPath!).FunctionAt(start - table.LoadBias);
        return [.. table.Sites
            .Where(s => s.Ip - table.LoadBias > function.Start && s.Ip - table.LoadBias <= function.End)
            .OrderBy(s => s.Ip)
            .Select(s => (s.CfaOffset, s.RbpOffset))];
    }

    private static List<ulong> SyscallInstructions(string library)
    {
        var addresses = new List<ulong>();
        foreach (var line in Binutils.Run("objdump", "-d", "--no-show-raw-insn", library))
        {
            if (SyscallLine().Match(line) is { Success: true } match)
            {
                addresses.Add(ulong.Parse(match.Groups[1].ValueSpan, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }
        }

        return addresses;
    }

    [GeneratedRegex(@"^\s*([0-9a-f]+):\s+syscall\s*$")]
    private static partial Regex SyscallLine();
}
