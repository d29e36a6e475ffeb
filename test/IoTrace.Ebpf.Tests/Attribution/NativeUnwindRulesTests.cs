using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using IoTrace.Symbols.Native;
using IoTrace.Ebpf.Attribution;
using IoTrace.Ebpf.Kernel;
using IoTrace.Ebpf.Tests.TestSupport;
using IoTrace.Symbols.Tests.TestSupport;
using IoTrace.Tests.Shared;
using Xunit;

namespace IoTrace.Ebpf.Tests.Attribution;

/// <summary>What the process teaches the BPF walk about e_sqlite3 (no frame pointers), checked against binutils.</summary>
public sealed partial class NativeUnwindRulesTests
{
    private readonly List<(ulong Ip, long Rule)> _taught = [];

    [Fact]
    public void StoppedInNativeCode_StackEndsWithTheMarker_TeachesThatFrameFirstAsReadelfDescribesIt()
    {
        Requires.Linux();
        var sqlite = LoadedLibrary.Sqlite;
        var returnAddress = Calls(sqlite.Path).First(c => c.Function == "unixRead" && c.Indirect).ReturnAddress;
        var rules = Create();

        var stopped = rules.StoppedInNativeCode([0x7f00_0000_1000, returnAddress + sqlite.LoadBias, KernelProgram.UnknownFrameMarker]);

        Assert.True(stopped);
        Assert.Equal(returnAddress + sqlite.LoadBias, _taught[0].Ip);
        Assert.Equal(Binutils.ReadelfFrames.Of(sqlite.Path).RowAt(returnAddress - 1), Row(_taught[0].Rule));
    }

    [Fact]
    public void StoppedInNativeCode_FirstLessonOfALibrary_TeachesItsIndirectCallsAndCallsThroughItsPlt()
    {
        Requires.Linux();
        var sqlite = LoadedLibrary.Sqlite;
        var calls = Calls(sqlite.Path);
        var readelf = Binutils.ReadelfFrames.Of(sqlite.Path);
        var rules = Create();

        Assert.True(rules.StoppedInNativeCode([0x7f00_0000_1000, calls.First(c => c.Function == "unixRead" && c.Indirect).ReturnAddress + sqlite.LoadBias, KernelProgram.UnknownFrameMarker]));

        // Every rule is readelf's row at its call; every indirect call (where SQLite reaches its VFS and pager methods)
        // and every call to its own sqlite3_step through the PLT (sqlite3_exec's, when a prepare reads the schema) is taught.
        var taught = _taught.ToDictionary(t => t.Ip - sqlite.LoadBias, t => t.Rule);
        Assert.InRange(taught.Count, 8_000, NativeUnwindRules.FirstLessonRules);
        Assert.All(taught, t => Assert.Equal(readelf.RowAt(t.Key - 1), Row(t.Value)));
        var followable = calls.Where(c => readelf.RowAt(c.ReturnAddress - 1) is { ReturnAddress: "c-8" } row && row.Cfa.StartsWith("rsp+", StringComparison.Ordinal)).ToList();
        Assert.Subset(taught.Keys.ToHashSet(), followable.Where(c => c.Indirect).Select(c => c.ReturnAddress).ToHashSet());
        Assert.Subset(taught.Keys.ToHashSet(), followable.Where(c => c.Target == "sqlite3_step@plt").Select(c => c.ReturnAddress).ToHashSet());
        Assert.True(followable.Count(c => c.Target == "sqlite3_step@plt") > 10);
    }

    [Fact]
    public void TeachAppLibraries_SqliteLoaded_TeachesItsIoCallsFirstAndLibcsCallersOfItsWrappers()
    {
        Requires.Linux();
        var sqlite = LoadedLibrary.Sqlite;
        var libc = LoadedLibrary.Load(KernelProgram.LibcSites.LibraryPath!);
        var rules = new NativeUnwindRules((ip, rule) => _taught.Add((ip, rule)), NativeUnwindRules.MaxRules, appDirectory: AppContext.BaseDirectory);

        rules.TeachAppLibraries();

        // e_sqlite3 opens through its posixOpen, which calls open64 through the PLT: the frame of every open it makes.
        var lesson = Assert.Single(rules.FirstLessons);
        Assert.Equal(sqlite.Path, lesson.Library);
        var taught = _taught.Select(t => t.Ip).ToHashSet();
        var opens = Calls(sqlite.Path).Where(c => c.Target == "open64@plt").ToList();
        Assert.NotEmpty(opens);
        Assert.All(opens, c => Assert.Contains(c.ReturnAddress + sqlite.LoadBias, taught));

        // Libc's fcntl64 calls the function that makes the system call: the walk steps out of fcntl64 too.
        var fcntl = Binutils.ReadelfFrames.Of(libc.Path).FunctionAt(libc.FileAddressOf("fcntl64"));
        Assert.Contains(taught, ip => ip - libc.LoadBias > fcntl.Start && ip - libc.LoadBias <= fcntl.End);

        // At most once a second; a library already taught is not taught again.
        _taught.Clear();
        Assert.Equal(0, rules.TeachAppLibraries());
        Assert.Empty(_taught);
    }

    [Fact]
    public void TeachAppLibraries_LibraryWhoseDynamicSectionPointsOutside_TeachesNothingForItAndThrowsNothing()
    {
        Requires.Linux();
        var sqlite = LoadedLibrary.Sqlite;
        var directory = Directory.CreateTempSubdirectory("iotrace-broken-").FullName;
        try
        {
            // A copy of e_sqlite3 whose DT_JMPREL (the PLT's relocations) points far outside the file, "mapped" where
            // the real one is, in a maps file of our own.
            var bytes = File.ReadAllBytes(sqlite.Path);
            var dynamic = (int)Unsafe.ByteOffset(ref sqlite.Image.Bytes[0], ref MemoryMarshal.GetReference(sqlite.Image.BytesAt(sqlite.Image.Dynamic!.Value)));
            for (var entry = dynamic; BitConverter.ToUInt64(bytes, entry) != 0; entry += 16)
            {
                if (BitConverter.ToUInt64(bytes, entry) == 23)
                {
                    BitConverter.TryWriteBytes(bytes.AsSpan(entry + 8), 0x7fff_0000_0000UL);
                }
            }

            var copy = Path.Combine(directory, "libbroken.so");
            File.WriteAllBytes(copy, bytes);
            var maps = Path.Combine(directory, "maps");
            File.WriteAllLines(maps, File.ReadLines("/proc/self/maps").Where(l => l.EndsWith(sqlite.Path, StringComparison.Ordinal)).Select(l => l.Replace(sqlite.Path, copy, StringComparison.Ordinal)));
            var rules = new NativeUnwindRules((ip, rule) => _taught.Add((ip, rule)), NativeUnwindRules.MaxRules, maps, directory);

            rules.TeachAppLibraries();

            Assert.Empty(rules.FirstLessons);
            Assert.Equal(0, rules.Teach(Calls(sqlite.Path).First(c => c.Indirect).ReturnAddress + sqlite.LoadBias));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void StoppedInNativeCode_FlaggedFrameInManagedCode_IsFalseAndTeachesNothing()
    {
        Requires.Linux();
        var managed = (ulong)typeof(NativeUnwindRulesTests).GetMethod(nameof(StoppedInNativeCode_FlaggedFrameInManagedCode_IsFalseAndTeachesNothing))!.MethodHandle.GetFunctionPointer();
        var rules = Create();

        Assert.False(rules.StoppedInNativeCode([0x7f00_0000_1000, 0x7f00_0000_2000, managed | KernelProgram.PastNativeFlag, 0x7f00_0000_3000]));
        Assert.False(rules.StoppedInNativeCode([0x7f00_0000_1000, 0x7f00_0000_2000, 0x7f00_0000_3000]));
        Assert.Empty(_taught);
    }

    [Fact]
    public void StoppedInNativeCode_FlaggedFrameInALibraryWithoutFramePointers_IsTrueAndTeachesIt()
    {
        Requires.Linux();
        var sqlite = LoadedLibrary.Sqlite;
        var returnAddress = Calls(sqlite.Path).First(c => c.Function == "sqlite3VdbeExec" && c.Indirect).ReturnAddress + sqlite.LoadBias;
        var rules = Create();

        // The walk stepped some frames by rule, then met this one: its rbp may still look like a frame pointer.
        Assert.True(rules.StoppedInNativeCode([0x7f00_0000_1000, 0x7f00_0000_2000, returnAddress | KernelProgram.PastNativeFlag, 0x7ffd_0000_0000]));
        Assert.Contains(returnAddress, _taught.Select(t => t.Ip));
        _taught.Clear();
        Assert.True(rules.StoppedInNativeCode([0x7f00_0000_1000, 0x7f00_0000_2000, returnAddress | KernelProgram.PastNativeFlag, 0x7ffd_0000_0000]));
        Assert.Empty(_taught);
    }

    [Fact]
    public void StoppedInNativeCode_FlaggedFrameWithAFramePointer_IsFalseAndTeachesNothing()
    {
        Requires.Linux();
        var path = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .First(f => f.Length >= 6 && f[5].EndsWith("/libSystem.Native.so", StringComparison.Ordinal))[5];
        var native = LoadedLibrary.Load(path);
        var readelf = Binutils.ReadelfFrames.Of(native.Path);
        var returnAddress = Calls(native.Path).First(c => readelf.RowAt(c.ReturnAddress - 1) is { Cfa: "rbp+16", Rbp: "c-16", ReturnAddress: "c-8" }).ReturnAddress + native.LoadBias;
        var rules = Create();

        // libSystem.Native keeps frame pointers (its SystemNative_OpenDir calls opendir, whose fstat the walk steps
        // through by rule): the rbp the walk goes on from, saved by the frames it stepped, is that function's own.
        Assert.False(rules.StoppedInNativeCode([0x7f00_0000_1000, 0x7f00_0000_2000, returnAddress | KernelProgram.PastNativeFlag, 0x7ffd_0000_0000]));
        Assert.Empty(_taught);
    }

    [Fact]
    public void TeachAppLibraries_LibcCallsToAFunctionThatJumpsToAWrapper_AreTaught()
    {
        Requires.Linux();
        var libc = LoadedLibrary.Load(KernelProgram.LibcSites.LibraryPath!);
        var readelf = Binutils.ReadelfFrames.Of(libc.Path);

        // glibc's fstat jumps to fstatat, which makes the system call: a call to fstat returns past fstatat's frame.
        var calls = Calls(libc.Path)
            .Where(c => c.Target?.StartsWith("__fstat64@@", StringComparison.Ordinal) == true
                && readelf.RowAt(c.ReturnAddress - 1) is { ReturnAddress: "c-8" } row && row.Cfa.StartsWith("rsp+", StringComparison.Ordinal))
            .Select(c => c.ReturnAddress + libc.LoadBias)
            .ToHashSet();
        _ = Create().TeachAppLibraries(loaded: true);

        Assert.InRange(calls.Count, 10, 1_000);
        Assert.Subset(_taught.Select(t => t.Ip).ToHashSet(), calls);
    }

    [Fact]
    public void StoppedInNativeCode_Libc_TeachesOneLessonNotTheWholeLibrary()
    {
        Requires.Linux();
        var libc = LoadedLibrary.Load(KernelProgram.LibcSites.LibraryPath!);
        var call = Calls(libc.Path).First(c => c.Function.StartsWith("_IO_fopen@@", StringComparison.Ordinal));
        var rules = Create();

        Assert.True(rules.StoppedInNativeCode([0x7f00_0000_1000, call.ReturnAddress + libc.LoadBias, KernelProgram.UnknownFrameMarker]));
        Assert.InRange(_taught.Count, 1, NativeUnwindRules.RulesPerLesson);
    }

    [Fact]
    public void StoppedInNativeCode_LibraryThatCallsNoIoFunction_TeachesOneLessonNotTheWholeLibrary()
    {
        Requires.Linux();
        var libm = LoadedLibrary.Load("/usr/lib/x86_64-linux-gnu/libm.so.6");
        var call = Calls(libm.Path).First(c => !c.Indirect && c.Target is not null && !c.Target.EndsWith("@plt", StringComparison.Ordinal));
        var rules = Create();

        // libm imports no IO function: it makes no IO of its own, so its thousands of calls are not searched.
        Assert.True(rules.StoppedInNativeCode([0x7f00_0000_1000, call.ReturnAddress + libm.LoadBias, KernelProgram.UnknownFrameMarker]));
        Assert.InRange(_taught.Count, 1, NativeUnwindRules.RulesPerLesson);
        Assert.Empty(rules.FirstLessons);
    }

    [Fact]
    public void StoppedInNativeCode_CapacityReached_TeachesNoMoreThanTheRuleMapHolds()
    {
        Requires.Linux();
        var sqlite = LoadedLibrary.Sqlite;
        var rules = new NativeUnwindRules((ip, rule) => _taught.Add((ip, rule)), capacity: 10);

        rules.StoppedInNativeCode([0x7f00_0000_1000, Calls(sqlite.Path).First(c => c.Indirect).ReturnAddress + sqlite.LoadBias, KernelProgram.UnknownFrameMarker]);

        Assert.Equal(10, _taught.Count);
        Assert.Equal(10, rules.Count);
    }

    [Fact]
    public void TeachAppLibraries_LibraryLoadedAfterSqlitesFirstLesson_GetsTheLessonItGetsAlone()
    {
        Requires.Linux();
        _ = LoadedLibrary.Sqlite;
        var wholeLesson = NativeLessons.FirstLessonAlone(LoadedLibrary.ZlibPath);
        var besideSqlite = Path.Combine(AppContext.BaseDirectory, $"libiotrace-rules-{Guid.NewGuid():N}.so");
        try
        {
            // SQLite learned first (at attach), then a library loaded later (in a request): both need room in the kernel.
            var rules = new NativeUnwindRules((ip, rule) => _taught.Add((ip, rule)), NativeUnwindRules.MaxRules, appDirectory: AppContext.BaseDirectory);
            rules.TeachAppLibraries(loaded: true);
            Assert.InRange(Assert.Single(rules.FirstLessons, l => l.Library == LoadedLibrary.Sqlite.Path).Rules, 8_000, NativeUnwindRules.FirstLessonRules);
            File.Copy(LoadedLibrary.ZlibPath, besideSqlite);
            _ = LoadedLibrary.Load(besideSqlite);
            rules.TeachAppLibraries(loaded: true);

            Assert.InRange(wholeLesson, 100, NativeUnwindRules.FirstLessonRules);
            Assert.Equal(wholeLesson, Assert.Single(rules.FirstLessons, l => l.Library == besideSqlite).Rules);
            Assert.Equal(_taught.Count, _taught.Select(t => t.Ip).Distinct().Count());
            Assert.InRange(_taught.Count, wholeLesson + 8_000, NativeUnwindRules.MaxRules);
        }
        finally
        {
            File.Delete(besideSqlite);
        }
    }

    private NativeUnwindRules Create() => new((ip, rule) => _taught.Add((ip, rule)), NativeUnwindRules.MaxRules);

    /// <summary>A taught rule as readelf prints the row: CFA, return address, rbp.</summary>
    private static Binutils.Row Row(long packed)
    {
        var cfa = packed & 0x7fffffff;
        var rbp = packed >> 32;
        return new Binutils.Row(
            (packed & UnwindRule.CfaFromRbpBit) != 0 ? $"rbp+{cfa}" : $"rsp+{cfa}",
            "c-8",
            rbp == 0 ? "u" : $"c-{rbp}");
    }

    private static readonly Dictionary<string, List<Call>> s_calls = [];

    /// <summary>objdump's calls in <paramref name="library"/>: the function they are in, whether indirect, the target's name, and the next instruction's address.</summary>
    private static List<Call> Calls(string library)
    {
        lock (s_calls)
        {
            if (s_calls.TryGetValue(library, out var known))
            {
                return known;
            }

            var calls = new List<Call>();
            string? function = null;
            (ulong Address, string Operand, string Function)? pending = null;
            foreach (var line in Binutils.Run("objdump", "-d", "--no-show-raw-insn", library))
            {
                if (FunctionLine().Match(line) is { Success: true } header)
                {
                    function = header.Groups[1].Value;
                    pending = null;
                    continue;
                }

                if (InstructionLine().Match(line) is not { Success: true } instruction)
                {
                    continue;
                }

                var address = ulong.Parse(instruction.Groups[1].ValueSpan, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (pending is { } call)
                {
                    var target = TargetName().Match(call.Operand) is { Success: true } name ? name.Groups[1].Value : null;
                    calls.Add(new Call(call.Function, call.Operand.StartsWith('*'), target, address));
                    pending = null;
                }

                if (instruction.Groups[2].Value == "call" && function is not null)
                {
                    pending = (address, instruction.Groups[3].Value.Trim(), function);
                }
            }

            s_calls[library] = calls;
            return calls;
        }
    }

    private sealed record Call(string Function, bool Indirect, string? Target, ulong ReturnAddress);

    [GeneratedRegex(@"^[0-9a-f]+ <([^>]+)>:$")]
    private static partial Regex FunctionLine();

    [GeneratedRegex(@"^\s*([0-9a-f]+):\s+(?:bnd |notrack )?(\w+)\s*(.*)$")]
    private static partial Regex InstructionLine();

    [GeneratedRegex(@"<([^>+]+)>")]
    private static partial Regex TargetName();
}
