using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using IoTrace.Ebpf.Kernel;
using IoTrace.Testing;
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
        var readelf = ReadelfFrames.Of(table.LibraryPath!);

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
        var readelf = ReadelfFrames.Of(table.LibraryPath!);
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
        Assert.Equal([(128, 16), (128, 16)], SitesIn(LibcUnwindTable.Current, "open64"));
    }

    [Fact]
    public void Current_SystemCallsNotCounted_AreLeftOut()
    {
        Requires.Linux();
        var all = LibcUnwindTable.Load("/proc/self/maps");
        var current = LibcUnwindTable.Current;

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
        var function = ReadelfFrames.Of(table.LibraryPath!).FunctionAt(start - table.LoadBias);
        return [.. table.Sites
            .Where(s => s.Ip - table.LoadBias > function.Start && s.Ip - table.LoadBias <= function.End)
            .OrderBy(s => s.Ip)
            .Select(s => (s.CfaOffset, s.RbpOffset))];
    }

    private static List<ulong> SyscallInstructions(string library)
    {
        var addresses = new List<ulong>();
        foreach (var line in Run("objdump", "-d", "--no-show-raw-insn", library))
        {
            if (SyscallLine().Match(line) is { Success: true } match)
            {
                addresses.Add(ulong.Parse(match.Groups[1].ValueSpan, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }
        }

        return addresses;
    }

    private static string[] Run(string tool, params string[] arguments)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();

        // Not the exit code: readelf exits 1 when it cannot follow .gnu_debuglink, after printing everything.
        Assert.True(output.Length > 0, $"{tool} printed nothing: {stderr.Result}");
        return output.Split('\n');
    }

    [GeneratedRegex(@"^\s*([0-9a-f]+):\s+syscall\s*$")]
    private static partial Regex SyscallLine();

    [GeneratedRegex(@"^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ (?:CIE|FDE cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+))")]
    private static partial Regex EntryLine();

    // A register rule prints as "r10 (r10)": one column.
    [GeneratedRegex(@" \((\w+)\)")]
    private static partial Regex RegisterName();

    /// <summary>readelf's table of one CIE or FDE: its range, the columns (CFA, ra, rbx, rbp, ...) and the rows by location.</summary>
    private sealed record FrameTable(ulong Start, ulong End, string? Cie, List<string> Columns, List<(ulong Location, string[] Values)> Rows);

    private readonly record struct Row(string Cfa, string ReturnAddress, string Rbp);

    private sealed class ReadelfFrames
    {
        private static readonly Dictionary<string, ReadelfFrames> s_cache = [];
        private readonly List<FrameTable> _fdes = [];
        private readonly Dictionary<string, FrameTable> _cies = [];

        public static ReadelfFrames Of(string library)
        {
            lock (s_cache)
            {
                if (!s_cache.TryGetValue(library, out var frames))
                {
                    frames = new ReadelfFrames();
                    frames.Parse(Run("readelf", "-W", "--debug-dump=frames-interp", library));
                    s_cache[library] = frames;
                }

                return frames;
            }
        }

        public (ulong Start, ulong End) FunctionAt(ulong address)
        {
            var fde = _fdes.Single(f => address >= f.Start && address < f.End);
            return (fde.Start, fde.End);
        }

        /// <summary>The row in effect at the instruction after the 2-byte one at <paramref name="instruction"/>, if an FDE covers both.</summary>
        public Row? RowAfterInstruction(ulong instruction)
        {
            var ip = instruction + 2;
            var fde = _fdes.FirstOrDefault(f => instruction >= f.Start && ip < f.End);
            if (fde is null)
            {
                return null;
            }

            // readelf prints no rows for an FDE without instructions: its CIE's initial row holds for all of it.
            var table = fde.Rows.Count > 0 ? fde : _cies[fde.Cie!];
            var values = fde.Rows.Count > 0 ? fde.Rows.Last(r => r.Location <= ip).Values : table.Rows[^1].Values;
            string Column(string name) => table.Columns.IndexOf(name) is var i and >= 0 ? values[i] : "u";
            return new Row(Column("CFA"), Column("ra"), Column("rbp"));
        }

        private void Parse(string[] lines)
        {
            FrameTable? current = null;
            foreach (var line in lines)
            {
                if (EntryLine().Match(line) is { Success: true } entry)
                {
                    if (entry.Groups[2].Success)
                    {
                        current = new FrameTable(Hex(entry.Groups[3].Value), Hex(entry.Groups[4].Value), entry.Groups[2].Value, [], []);
                        _fdes.Add(current);
                    }
                    else
                    {
                        current = new FrameTable(0, 0, null, [], []);
                        _cies[entry.Groups[1].Value] = current;
                    }

                    continue;
                }

                var fields = RegisterName().Replace(line, "($1)").Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (current is null || fields.Length < 2)
                {
                    continue;
                }

                if (fields[0] == "LOC")
                {
                    current.Columns.AddRange(fields[1..]);
                }
                else if (fields[0].Length == 16 && ulong.TryParse(fields[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var location))
                {
                    current.Rows.Add((location, fields[1..]));
                }
            }
        }

        private static ulong Hex(string text) => ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
