using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Globalization;
using IoTrace.Ebpf.Kernel;
using IoTrace.Symbols.Native;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf.Attribution;

/// <summary>
/// Teaches the BPF walk to step through native code built without frame pointers (e_sqlite3, libc's own callers of
/// its system call wrappers), so that its IO reaches the managed frames above it and the app's line. Rules
/// (<see cref="UnwindRule"/>, from the library's .eh_frame, by return address) go to the program with a prctl.
/// <list type="bullet">
/// <item>Native libraries in the app's folder (where the in-process backend patches them too) that call libc's IO
/// functions themselves get a first lesson when the backend attaches and, once loaded later, at the next flush
/// (<see cref="TeachAppLibraries"/>): the return addresses of those calls, then of their indirect calls (e_sqlite3
/// reaches libc through a table of function pointers), then, breadth first, of the direct and PLT calls to those
/// functions and to their callers, up to <see cref="FirstLessonRules"/>: for e_sqlite3, every frame its IO can have.</item>
/// <item>Libc's own direct calls to the functions that make the system calls counted, at the same time, once.</item>
/// <item>A stack that still stops at a return address without a rule ends with a marker
/// (<see cref="BpftraceScript.UnknownFrameMarker"/>), or has a flagged frame in such a library: that address is
/// taught, with its function's callers, up to <see cref="RulesPerLesson"/>; the next call on that path walks further.</item>
/// </list>
/// Rules are never taken back: the runtime never unloads the libraries its P/Invokes load (one freed with
/// NativeLibrary.Free, and another loaded at its addresses, would mislead the walk). Used by the flush processor, and
/// once by the attach: its public methods take a lock.
/// </summary>
internal sealed class NativeUnwindRules(Action<ulong, long> teach, int capacity, string mapsPath = ProcessMaps.Self, string? appDirectory = null)
{
    /// <summary>
    /// Rules taught per kernel rule map (<see cref="BpftraceScript.RuleMapOf"/>), at most: each map has 16,384 entries,
    /// and a preallocated BPF hash map can refuse an update before it is full (its free entries are spread over the CPUs).
    /// </summary>
    public const int MaxRules = 15_000;

    /// <summary>A library's indirect calls found for its first lesson, at most.</summary>
    public const int IndirectCallsAtMost = 2_048;

    /// <summary>Rules a library's first lesson teaches, at most: e_sqlite3's whole search is about 14,100.</summary>
    public const int FirstLessonRules = 15_000;

    /// <summary>Rules taught per stack learned from, at most: each is an entry in the kernel's rule map.</summary>
    public const int RulesPerLesson = 512;

    /// <summary>The libc functions that do IO: those the in-process backend hooks.</summary>
    private static readonly FrozenSet<string> s_ioImports = LibcIoFunction.All.Select(f => f.Symbol).ToFrozenSet(StringComparer.Ordinal);

    /// <summary>The in-process backend's native library (<c>NativeShim.LibraryName</c>), loaded from the app's folder.</summary>
    private const string OwnShim = "/libIoTrace.Native.so";

    private readonly string _appDirectory = Path.TrimEndingDirectorySeparator(appDirectory ?? AppContext.BaseDirectory) + "/";
    private readonly Lock _lock = new();
    private readonly HashSet<ulong> _taught = [];
    private readonly int[] _taughtPerMap = new int[BpftraceScript.RuleMaps];
    private readonly Dictionary<string, Library?> _libraries = new(StringComparer.Ordinal);
    private List<FileMapping> _mappings = [];
    private long _mappingsRead = long.MinValue / 2;
    private long _appLibrariesChecked = long.MinValue / 2;
    private bool _libcTaught;

    private FirstLesson[] _firstLessons = [];

    /// <summary>Rules handed to the program so far.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _taught.Count;
            }
        }
    }

    /// <summary>Each library's first lesson: how many rules, and how long it took (read from any thread, for tests and benchmarks).</summary>
    public IReadOnlyList<FirstLesson> FirstLessons => Volatile.Read(ref _firstLessons);

    /// <summary>
    /// Whether the walk of <paramref name="stack"/> stopped at a native frame it has no rule for (then nothing past it
    /// can be trusted): the stack ends with <see cref="BpftraceScript.UnknownFrameMarker"/>, or the frame flagged as past
    /// the native frames (<see cref="BpftraceScript.PastNativeFlag"/>) lies in a native library, not in managed code.
    /// Teaches that frame's rule, and its callers' call sites, if not yet taught.
    /// </summary>
    public bool StoppedInNativeCode(ulong[] stack)
    {
        lock (_lock)
        {
            return StoppedInNativeCodeLocked(stack);
        }
    }

    private bool StoppedInNativeCodeLocked(ulong[] stack)
    {
        ulong? ip = null;
        if (stack.Length >= 2 && stack[^1] == BpftraceScript.UnknownFrameMarker)
        {
            ip = stack[^2] & ~BpftraceScript.PastNativeFlag;
        }
        else if (Array.FindIndex(stack, f => (f & BpftraceScript.PastNativeFlag) != 0) is var past and > 0)
        {
            ip = stack[past] & ~BpftraceScript.PastNativeFlag;
            if (Find(ip.Value) is not { } mapping || Load(mapping.Path) is not { } library || KeepsFramePointer(library, mapping, ip.Value))
            {
                // Managed code (or code without unwind tables), or a native function with a frame pointer at that call
                // (libSystem.Native's, calling opendir): the chain from there on is the frame pointers'.
                return false;
            }
        }

        if (ip is { } unknown)
        {
            TeachLocked(unknown);
            return true;
        }

        return false;
    }

    /// <summary>Whether the function at return address <paramref name="ip"/> has its frame pointer set up there (CFA = rbp + 16, the caller's rbp at CFA - 16).</summary>
    private static bool KeepsFramePointer(Library library, FileMapping mapping, ulong ip) =>
        !library.Broken && library.Image.LoadBias(mapping.Start, mapping.Offset) is { } bias
        && UnwindRule.TryAt(library.Image, library.Frames, ip - bias - 1, ip - bias - 1, out var rule)
        && rule is { CfaFromRbp: true, CfaOffset: 16, RbpOffset: 16 };

    /// <summary>
    /// Teaches the rule at return address <paramref name="ip"/>, then those of the direct and PLT calls to its function
    /// and to their callers (a library's first lesson: from its indirect calls too). Returns the rules taught.
    /// </summary>
    public int Teach(ulong ip)
    {
        lock (_lock)
        {
            return TeachLocked(ip);
        }
    }

    private int TeachLocked(ulong ip)
    {
        if (!HasRoomFor(ip) || _taught.Contains(ip) || Find(ip) is not { } mapping || Load(mapping.Path) is not { Broken: false } library
            || library.Image.LoadBias(mapping.Start, mapping.Offset) is not { } bias)
        {
            return 0;
        }

        return Lesson(library, mapping, bias, ip - bias);
    }

    /// <summary>
    /// Gives the first lesson to native libraries in the app's folder (where the in-process backend patches them too:
    /// SQLite's e_sqlite3) that are loaded and have had none, before any of their calls is seen: the calls made after it
    /// walk through them at once. Reads the process's maps at most once a second, unless <paramref name="loaded"/> says
    /// a library was just loaded. Returns the rules taught.
    /// </summary>
    public int TeachAppLibraries(bool loaded = false)
    {
        lock (_lock)
        {
            return TeachAppLibrariesLocked(loaded);
        }
    }

    /// <summary>The folder whose native libraries are learned ahead, ending with a separator.</summary>
    public string AppDirectory => _appDirectory;

    private int TeachAppLibrariesLocked(bool loaded)
    {
        if ((!loaded && Environment.TickCount64 - _appLibrariesChecked < 1_000) || IsFull)
        {
            return 0;
        }

        _appLibrariesChecked = Environment.TickCount64;
        _mappings = ProcessMaps.Executable(mapsPath);
        _mappingsRead = Environment.TickCount64;
        var taught = TeachLibcCallers();
        foreach (var mapping in _mappings)
        {
            // Shared objects only: the runtime maps the app's assemblies too, and a file that is no ELF is read whole once.
            // Not IoTrace's own shim: its trampolines make no calls of their own on the way to libc.
            if (mapping.Path.StartsWith(_appDirectory, StringComparison.Ordinal) && mapping.Path.Contains(".so", StringComparison.Ordinal)
                && !mapping.Path.EndsWith(OwnShim, StringComparison.Ordinal)
                && Load(mapping.Path) is { FirstLessonGiven: false } library
                && library.Image.LoadBias(mapping.Start, mapping.Offset) is { } bias)
            {
                taught += Lesson(library, mapping, bias, null);
            }
        }

        return taught;
    }

    /// <summary>
    /// Once: the return addresses of libc's own direct calls to the functions that hold the system calls counted (its
    /// <c>fcntl64</c> calls the function that makes the system call, <c>stat</c> calls <c>fstatat64</c>), and to the functions
    /// that jump to them (<c>opendir</c> calls <c>fstat</c>, which jumps to <c>fstatat64</c>): past the wrapper's frame,
    /// the walk steps through its libc caller too, from the first call on.
    /// </summary>
    private int TeachLibcCallers()
    {
        var table = LibcUnwindTable.Current;
        if (_libcTaught || table.LibraryPath is not { } path || table.Sites.Count == 0 || Load(path) is not { } libc)
        {
            return 0;
        }

        _libcTaught = true;
        var taught = 0;
        try
        {
            taught = TeachLibcCallers(table, libc);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            // Libc's tables did not read as expected: its callers keep being learned from stacks, one lesson at a time.
        }

        return taught;
    }

    private int TeachLibcCallers(LibcUnwindTable table, Library libc)
    {
        var taught = 0;
        var functions = table.Sites.Select(site => libc.FunctionOf(site.Ip - table.LoadBias - 1)).OfType<ulong>().Distinct().ToList();
        foreach (var function in functions.Concat(functions.SelectMany(libc.TailCallersOf)).Distinct())
        {
            foreach (var returnAddress in libc.CallersOf(function))
            {
                if (HasRoomFor(returnAddress + table.LoadBias) && !_taught.Contains(returnAddress + table.LoadBias)
                    && UnwindRule.TryAt(libc.Image, libc.Frames, returnAddress - 1, returnAddress - 1, out var rule))
                {
                    Add(returnAddress + table.LoadBias, rule);
                    taught++;
                }
            }
        }

        return taught;
    }

    private int Lesson(Library library, FileMapping mapping, ulong bias, ulong? returnAddress)
    {
        try
        {
            return LessonUnguarded(library, mapping, bias, returnAddress);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            // A library whose tables do not read as expected is not taught more: its calls keep no line, as before.
            library.FirstLessonGiven = true;
            library.Broken = true;
            return 0;
        }
    }

    private int LessonUnguarded(Library library, FileMapping mapping, ulong bias, ulong? returnAddress)
    {
        // The function the frame is in, then the functions that call it directly, breadth first. A library's first
        // lesson also starts from its calls into libc's IO functions (the innermost frames of its IO), then from all
        // its indirect calls (e_sqlite3 has about 450, against 19,000 direct): a search by direct calls cannot cross
        // them, so each would otherwise cost a round. Not libc's: its frames above a wrapper are few, and its whole
        // graph would fill the map.
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var taught = 0;
        var queue = new Queue<ulong>();
        if (returnAddress is { } first)
        {
            queue.Enqueue(first);
        }

        // Only a library that calls libc's IO functions itself gets the whole search: one without such calls makes no
        // IO of its own (a large one would fill the map for nothing), and is learned from its stacks alone.
        var isFirst = false;
        if (!library.FirstLessonGiven && !LibcUnwindTable.IsLibc(mapping.Path))
        {
            library.FirstLessonGiven = true;
            var io = library.IoCallReturns(s_ioImports);
            if (io.Count > 0)
            {
                isFirst = true;
                foreach (var seed in io.Concat(library.IndirectCallReturns()))
                {
                    queue.Enqueue(seed);
                }
            }
        }

        var budget = isFirst ? FirstLessonRules : RulesPerLesson;

        var seen = new HashSet<ulong>();
        while (queue.Count > 0 && taught < budget && !IsFull)
        {
            var next = queue.Dequeue();
            if (HasRoomFor(next + bias) && !_taught.Contains(next + bias) && UnwindRule.TryAt(library.Image, library.Frames, next - 1, next - 1, out var rule))
            {
                Add(next + bias, rule);
                taught++;
            }

            if (library.FunctionOf(next - 1) is { } function && seen.Add(function))
            {
                foreach (var caller in library.CallersOf(function))
                {
                    queue.Enqueue(caller);
                }
            }
        }

        if (isFirst)
        {
            Volatile.Write(ref _firstLessons, [.. _firstLessons, new FirstLesson(mapping.Path, taught, System.Diagnostics.Stopwatch.GetElapsedTime(started))]);
        }

        return taught;
    }

    /// <summary>Whether every kernel rule map holds <c>capacity</c> rules.</summary>
    private bool IsFull => Array.TrueForAll(_taughtPerMap, count => count >= capacity);

    private bool HasRoomFor(ulong returnAddress) => _taughtPerMap[BpftraceScript.RuleMapOf(returnAddress)] < capacity;

    private void Add(ulong returnAddress, UnwindRule rule)
    {
        _taught.Add(returnAddress);
        _taughtPerMap[BpftraceScript.RuleMapOf(returnAddress)]++;
        teach(returnAddress, rule.Packed);
    }

    private FileMapping? Find(ulong ip)
    {
        if (FindIn(_mappings, ip) is { } known)
        {
            return known;
        }

        // A library loaded since the last read. Code outside every file mapping (JIT code without W^X) misses every
        // time: the maps are read again at most once a second for it.
        if (Environment.TickCount64 - _mappingsRead < 1_000)
        {
            return null;
        }

        _mappings = ProcessMaps.Executable(mapsPath);
        _mappingsRead = Environment.TickCount64;
        return FindIn(_mappings, ip);
    }

    private static FileMapping? FindIn(List<FileMapping> mappings, ulong ip)
    {
        foreach (var mapping in mappings)
        {
            if (ip >= mapping.Start && ip < mapping.End)
            {
                return mapping;
            }
        }

        return null;
    }

    private Library? Load(string path)
    {
        if (!_libraries.TryGetValue(path, out var library))
        {
            try
            {
                var image = ElfImage.Parse(File.ReadAllBytes(path));
                library = EhFrame.Open(image) is { } frames ? new Library(image, frames) : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                // A library that cannot be read keeps its frames unknown: its IO stays without a line, as before.
                library = null;
            }

            _libraries[path] = library;
        }

        return library;
    }

    /// <summary>A library's first lesson: its path, the rules it taught, the time it took (the search of its code included, not reading the file).</summary>
    internal readonly record struct FirstLesson(string Library, int Rules, TimeSpan Elapsed);

    /// <summary>One library's unwind table, its functions (FDE starts) and, built when first asked, who calls each directly.</summary>
    private sealed class Library(ElfImage image, EhFrame frames)
    {
        private readonly ulong[] _functions = frames.Starts();
        private readonly Dictionary<ulong, ulong?> _stubs = [];
        private Dictionary<ulong, List<ulong>>? _callers;
        private Dictionary<ulong, List<ulong>>? _tailCallers;
        private ElfImage.PointerSlots? _slots;

        public ElfImage Image => image;

        public bool FirstLessonGiven { get; set; }

        /// <summary>A lesson failed on its tables: no more are given.</summary>
        public bool Broken { get; set; }

        public EhFrame Frames => frames;

        /// <summary>The start of the function (FDE) holding <paramref name="address"/>, or null.</summary>
        public ulong? FunctionOf(ulong address)
        {
            var index = Array.BinarySearch(_functions, address);
            index = index >= 0 ? index : ~index - 1;
            return index >= 0 ? _functions[index] : null;
        }

        /// <summary>The return addresses of the direct calls (<c>call rel32</c>) to <paramref name="function"/>.</summary>
        public List<ulong> CallersOf(ulong function) =>
            (_callers ??= IndexCalls()).TryGetValue(function, out var callers) ? callers : [];

        /// <summary>
        /// The functions that end in a jump (<c>jmp rel32</c>) to <paramref name="function"/>: a tail call leaves no frame,
        /// so their callers' return addresses are the frames above <paramref name="function"/>'s (glibc's <c>fstat</c>
        /// jumps to <c>fstatat64</c>).
        /// </summary>
        public List<ulong> TailCallersOf(ulong function) =>
            (_tailCallers ??= IndexTailCalls()).TryGetValue(function, out var callers) ? callers : [];

        /// <summary>
        /// The return addresses of the calls into the libc functions that do IO (those the in-process backend hooks:
        /// <c>open64</c>, <c>pread64</c>, <c>fcntl64</c>...), through a PLT stub or a pointer slot (SQLite's table of
        /// system calls): the innermost frames of this library's IO, which a first lesson starts from.
        /// </summary>
        public List<ulong> IoCallReturns(FrozenSet<string> imports)
        {
            var slots = Slots;
            var returns = new List<ulong>();
            if (slots.Imported.Count == 0)
            {
                return returns;
            }

            foreach (var segment in image.ExecutableSegments)
            {
                var code = image.Bytes.AsSpan((int)segment.Offset, (int)segment.FileSize);
                for (var i = 0; i + 6 <= code.Length; i++)
                {
                    ulong? slot = null;
                    ulong returnAddress = 0;
                    if (code[i] == 0xe8)
                    {
                        returnAddress = segment.Address + (ulong)i + 5;
                        slot = PltSlot(returnAddress + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code.Slice(i + 1, 4)));
                    }
                    else if (code[i] == 0xff && code[i + 1] == 0x15)
                    {
                        // call *slot(%rip)
                        returnAddress = segment.Address + (ulong)i + 6;
                        slot = returnAddress + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code.Slice(i + 2, 4));
                    }

                    if (slot is { } s && slots.Imported.TryGetValue(s, out var name) && imports.Contains(name) && FunctionOf(returnAddress - 1) is not null)
                    {
                        returns.Add(returnAddress);
                    }
                }
            }

            return returns;
        }

        private ElfImage.PointerSlots Slots => _slots ??= image.GotSlots();

        // A byte E8 whose 32-bit displacement lands exactly on a function's first byte, or on a PLT stub that jumps to
        // one of this library's functions, is taken for a call: one inside another instruction that happens to do so
        // only adds a rule for an address that is never a return address.
        private Dictionary<ulong, List<ulong>> IndexCalls()
        {
            var callers = new Dictionary<ulong, List<ulong>>();
            var slots = Slots;
            foreach (var segment in image.ExecutableSegments)
            {
                var code = image.Bytes.AsSpan((int)segment.Offset, (int)segment.FileSize);
                for (var i = code.IndexOf((byte)0xe8); i >= 0 && i + 5 <= code.Length; i = Next(code, i))
                {
                    var returnAddress = segment.Address + (ulong)i + 5;
                    var target = returnAddress + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code.Slice(i + 1, 4));
                    if (Array.BinarySearch(_functions, target) < 0)
                    {
                        if (PltSlot(target) is not { } slot || !slots.Defined.TryGetValue(slot, out var function) || Array.BinarySearch(_functions, function) < 0)
                        {
                            continue;
                        }

                        target = function;
                    }

                    if (!callers.TryGetValue(target, out var list))
                    {
                        callers[target] = list = [];
                    }

                    list.Add(returnAddress);
                }
            }

            return callers;
        }

        // As for calls, a byte E9 whose displacement lands exactly on a function's first byte, from another function.
        private Dictionary<ulong, List<ulong>> IndexTailCalls()
        {
            var tailCallers = new Dictionary<ulong, List<ulong>>();
            foreach (var segment in image.ExecutableSegments)
            {
                var code = image.Bytes.AsSpan((int)segment.Offset, (int)segment.FileSize);
                for (var i = code.IndexOf((byte)0xe9); i >= 0 && i + 5 <= code.Length; i = Next(code, i, 0xe9))
                {
                    var jump = segment.Address + (ulong)i;
                    var target = jump + 5 + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code.Slice(i + 1, 4));
                    if (Array.BinarySearch(_functions, target) >= 0 && FunctionOf(jump) is { } from && from != target)
                    {
                        if (!tailCallers.TryGetValue(target, out var list))
                        {
                            tailCallers[target] = list = [];
                        }

                        if (!list.Contains(from))
                        {
                            list.Add(from);
                        }
                    }
                }
            }

            return tailCallers;
        }

        /// <summary>The pointer slot a PLT stub at <paramref name="stub"/> jumps through (<c>[endbr64] [bnd] jmp *slot(%rip)</c>), or null if it is none.</summary>
        private ulong? PltSlot(ulong stub)
        {
            if (_stubs.TryGetValue(stub, out var known))
            {
                return known;
            }

            var bytes = image.BytesAt(stub);
            var at = bytes.StartsWith((ReadOnlySpan<byte>)[0xf3, 0x0f, 0x1e, 0xfa]) ? 4 : 0;
            at += bytes.Length > at && bytes[at] == 0xf2 ? 1 : 0;
            ulong? slot = bytes.Length >= at + 6 && bytes[at] == 0xff && bytes[at + 1] == 0x25
                ? stub + (ulong)(at + 6) + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(at + 2, 4))
                : null;
            return _stubs[stub] = slot;
        }

        /// <summary>
        /// The return addresses of the indirect calls (<c>call *r/m64</c>: FF /2, after an optional REX prefix) inside a
        /// function, at most <see cref="IndirectCallsAtMost"/>. Bytes that only look like one add a rule for an address
        /// that is never a return address.
        /// </summary>
        public List<ulong> IndirectCallReturns()
        {
            var returns = new List<ulong>();
            foreach (var segment in image.ExecutableSegments)
            {
                var code = image.Bytes.AsSpan((int)segment.Offset, (int)segment.FileSize);
                for (var i = code.IndexOf((byte)0xff); i >= 0 && i + 2 < code.Length && returns.Count < IndirectCallsAtMost; i = Next(code, i, 0xff))
                {
                    var modrm = code[i + 1];
                    if (((modrm >> 3) & 7) != 2)
                    {
                        continue;
                    }

                    var (mod, rm) = (modrm >> 6, modrm & 7);
                    var length = 2;
                    if (mod != 3 && rm == 4)
                    {
                        length++;
                        if (mod == 0 && (code[i + 2] & 7) == 5)
                        {
                            length += 4;
                        }
                    }

                    length += mod switch { 1 => 1, 2 => 4, 0 when rm == 5 => 4, _ => 0 };
                    var returnAddress = segment.Address + (ulong)(i + length);
                    if (FunctionOf(returnAddress - 1) is not null)
                    {
                        returns.Add(returnAddress);
                    }
                }
            }

            return returns;
        }

        private static int Next(ReadOnlySpan<byte> code, int previous, byte value = 0xe8)
        {
            var next = code[(previous + 1)..].IndexOf(value);
            return next < 0 ? -1 : previous + 1 + next;
        }
    }
}
