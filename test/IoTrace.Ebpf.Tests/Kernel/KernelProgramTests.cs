using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using IoTrace.Symbols.Native;
using IoTrace.Ebpf.Kernel;
using Xunit;

namespace IoTrace.Ebpf.Tests.Kernel;

/// <summary>The C program and the process read the same bits: every value both define agrees.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class KernelProgramTests
{
    public static TheoryData<string, ulong> SharedValues => new()
    {
        { "KIND_SHIFT", SyscallTable.KindShift },
        { "FD_SHIFT", SyscallTable.FdShift },
        { "OPENER", SyscallTable.Opener },
        { "COUNTS_BYTES", SyscallTable.CountsBytes },
        { "CLOSES", SyscallTable.Closes },
        { "PATH_ARG1", SyscallTable.PathArg1 },
        { "PATH_ARG0", SyscallTable.PathArg0 },
        { "PATH_TARGET", SyscallTable.PathTarget },
        { "SOCKET_ONLY", SyscallTable.SocketOnly },
        { "SETUP", SyscallTable.Setup },
        { "CONTEXT", SyscallTable.Context },
        { "CPU", SyscallTable.Cpu },
        { "RULES_SHIFT", SyscallTable.RulesShift },
        { "WORK_SITE_SHIFT", Symbols.TraceSlotTable.InheritedSiteShift },
        { "SYS_CONNECT", SyscallTable.Connect },
        { "SYS_NEWFSTATAT", SyscallTable.NewFstatAt },
        { "SYS_UTIMENSAT", SyscallTable.UtimensAt },
        { "SYS_STATX", SyscallTable.StatX },
        { "SYS_POLL", SyscallTable.Poll },
        { "SYS_PPOLL", SyscallTable.PPoll },
        { "SYSCALL_SLOTS", KernelProgram.SyscallSlots },
        { "STACK_DEPTH", KernelProgram.StackDepth },
        { "CHECKPOINT_1", (ulong)KernelProgram.Checkpoints[0] },
        { "CHECKPOINT_2", (ulong)KernelProgram.Checkpoints[1] },
        { "CHECKPOINT_3", (ulong)KernelProgram.Checkpoints[2] },
        { "FIRST_FRAMELESS_FRAME", KernelProgram.FirstFramelessFrame },
        { "UNKNOWN_FRAME_MARKER", KernelProgram.UnknownFrameMarker },
        { "PAST_NATIVE_FLAG", KernelProgram.PastNativeFlag },
        { "FRAMELESS_CALLER_FLAG", KernelProgram.FramelessCallerFlag },
        { "HASH_BASIS", KernelProgram.HashBasis },
        { "HASH_PRIME", KernelProgram.HashPrime },
        { "PATH_LENGTH", KernelProgram.PathLength },
        { "BUFFERS", KernelProgram.Buffers },
        { "RUNTIME_RANGES", KernelProgram.RuntimeRanges },
        { "TRACERS_OWN", Symbols.TraceSlotTable.TracersOwn },
    };

    /// <summary>The program's context bit is the one every reader of the slot table tests (the dtrace script's too).</summary>
    [Fact]
    public void Context_IsTheSlotTablesContextBit() => Assert.Equal(Symbols.TraceSlotTable.ContextBit, (ulong)SyscallTable.Context);

    [Theory]
    [MemberData(nameof(SharedValues))]
    public void Define_SharedWithTheProcess_HasTheProcesssValue(string name, ulong expected)
    {
        var defines = Defines();

        Assert.True(defines.TryGetValue(name, out var value), $"iotrace.bpf.c defines no {name}");
        Assert.Equal(expected, value);
    }

    /// <summary>The program skips the runtime check of a trace without context for the socket calls alone.</summary>
    [Fact]
    public void SocketOnly_X64Table_IsTheCatalogsSocketCalls()
    {
        var packed = SyscallTable.X64.ToDictionary(static s => s.Number, static s => (s.Packed & SyscallTable.SocketOnly) != 0);

        Assert.All(IoTrace.Platform.Linux.LinuxSyscalls.X64, c => Assert.Equal((c.Name, c.IsSocketOnly), (c.Name, packed[c.Number])));
    }

    /// <summary>The program has room for the runtime's libraries in this process (libcoreclr, libclrjit).</summary>
    [Fact]
    public void RuntimeRanges_ThisProcess_HoldTheRuntimesLibraries() =>
        Assert.InRange(Symbols.RuntimeCode.Of(IoTrace.Platform.Linux.ProcessMaps.Executable()).Runtime.Count, 2, KernelProgram.RuntimeRanges);

    [Fact]
    public void UnwindRules_MapSize_IsTheProcesssCapacity()
    {
        var source = File.ReadAllText(SourcePath());

        Assert.Contains($"HASH(unwind_rules, u64, s64, {KernelProgram.UnwindRules});", source, StringComparison.Ordinal);
        Assert.True(NativeUnwindRulesCapacity() < KernelProgram.UnwindRules);
    }

    private static int NativeUnwindRulesCapacity() => IoTrace.Ebpf.Attribution.NativeUnwindRules.MaxRules;

    /// <summary>The program's <c>#define NAME value</c> lines, values evaluated where they are a number or a shift.</summary>
    private static Dictionary<string, ulong> Defines()
    {
        var defines = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (Match match in DefinePattern().Matches(File.ReadAllText(SourcePath())))
        {
            var text = match.Groups[2].Value.Trim().Trim('(', ')');
            if (ShiftPattern().Match(text) is { Success: true } shift)
            {
                defines[match.Groups[1].Value] = Number(shift.Groups[1].Value) << int.Parse(shift.Groups[2].Value, CultureInfo.InvariantCulture);
            }
            else if (NumberPattern().IsMatch(text))
            {
                defines[match.Groups[1].Value] = Number(text);
            }
        }

        return defines;
    }

    private static ulong Number(string text)
    {
        text = text.TrimEnd('U', 'L');
        return text.StartsWith("0x", StringComparison.Ordinal)
            ? ulong.Parse(text[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : ulong.Parse(text, CultureInfo.InvariantCulture);
    }

    private static string SourcePath([CallerFilePath] string testFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(testFile)!, "../../../src/IoTrace.Ebpf/Kernel/Bpf/iotrace.bpf.c"));

    [GeneratedRegex(@"^#define ([A-Z0-9_]+) (.+)$", RegexOptions.Multiline)]
    private static partial Regex DefinePattern();

    [GeneratedRegex(@"^(\w+?)U?L*L* << (\d+)$")]
    private static partial Regex ShiftPattern();

    [GeneratedRegex(@"^(0x[0-9A-Fa-f]+|\d+)U?L*L*$")]
    private static partial Regex NumberPattern();
}
