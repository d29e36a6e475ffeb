using System.Collections.Frozen;
using IoTrace.Ebpf.Kernel;
using IoTrace.Symbols.Native;
using IoTrace.Platform.Linux;

namespace IoTrace.Ebpf.Attribution;

/// <summary>
/// Teaches the BPF walk to step through native code built without frame pointers (e_sqlite3, libc's own callers of
/// its system call wrappers), so that its IO reaches the managed frames above it and the app's line. Rules
/// (<see cref="UnwindRule"/>, from the library's .eh_frame, by return address) go to the program's rule map.
/// <list type="bullet">
/// <item>Native libraries in the app's folder (where the in-process backend patches them too) that call libc's IO
/// functions themselves get a first lesson when the backend attaches and, once loaded later, at the next flush
/// (<see cref="TeachAppLibraries"/>): the return addresses of those calls, then of their indirect calls (e_sqlite3
/// reaches libc through a table of function pointers), then, breadth first, of the direct and PLT calls to those
/// functions and to their callers, up to <see cref="FirstLessonRules"/>: for e_sqlite3, every frame its IO can have.</item>
/// <item>Libc's own calls on the way to the functions that make the system calls counted, at the same time, once
/// (<see cref="LibcCallerRules"/>).</item>
/// <item>A stack that still stops at a return address without a rule ends with a marker
/// (<see cref="KernelProgram.UnknownFrameMarker"/>), or has a flagged frame in such a library: that address is
/// taught, with its function's callers, up to <see cref="RulesPerLesson"/>; the next call on that path walks further.</item>
/// </list>
/// Rules are never taken back: the runtime never unloads the libraries its P/Invokes load (one freed with
/// NativeLibrary.Free, and another loaded at its addresses, would mislead the walk). Used by the flush processor, and
/// once by the attach: its public methods take a lock.
/// </summary>
internal sealed class NativeUnwindRules(Action<ulong, long> teach, int capacity, string mapsPath = ProcessMaps.Self, string? appDirectory = null)
{
    /// <summary>
    /// Rules taught, at most: the kernel's rule map has <see cref="KernelProgram.UnwindRules"/> entries, and a
    /// preallocated BPF hash map can refuse an update before it is full (its free entries are spread over the CPUs).
    /// </summary>
    public const int MaxRules = KernelProgram.UnwindRules - 4_096;

    /// <summary>A library's indirect calls found for its first lesson, at most.</summary>
    public const int IndirectCallsAtMost = 2_048;

    /// <summary>Rules a library's first lesson teaches, at most: e_sqlite3's whole search is about 13,800.</summary>
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
    private int _taughtCount;
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
    /// can be trusted): the stack ends with <see cref="KernelProgram.UnknownFrameMarker"/>, or the frame flagged as past
    /// the native frames (<see cref="KernelProgram.PastNativeFlag"/>) lies in a native library, not in managed code.
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
        if (stack.Length >= 2 && stack[^1] == KernelProgram.UnknownFrameMarker)
        {
            ip = stack[^2] & ~KernelProgram.PastNativeFlag;
        }
        else if (Array.FindIndex(stack, f => (f & KernelProgram.PastNativeFlag) != 0) is var past and > 0)
        {
            ip = stack[past] & ~KernelProgram.PastNativeFlag;
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
        if (!HasRoom || _taught.Contains(ip) || Find(ip) is not { } mapping || Load(mapping.Path) is not { Broken: false } library
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

    /// <summary>Libc's caller rules, once (see <see cref="TeachAppLibraries"/>, which teaches them first otherwise). Returns the rules taught.</summary>
    public int TeachLibc()
    {
        lock (_lock)
        {
            return TeachLibcCallers();
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
    /// Once: the rules of libc's own calls on the way to the functions that hold the system calls counted
    /// (<see cref="LibcCallerRules"/>: <c>stat</c> calls <c>fstatat64</c>, <c>opendir</c> calls <c>fstat</c>, which jumps
    /// to <c>fstatat64</c>, the runtime's <c>fopen</c> reaches <c>open64</c> three frames down): past the wrapper's
    /// frame, the walk steps out of libc to its caller from the first call on.
    /// </summary>
    private int TeachLibcCallers()
    {
        if (_libcTaught)
        {
            return 0;
        }

        _libcTaught = true;
        var taught = 0;
        foreach (var (returnAddress, rule) in KernelProgram.LibcCallers)
        {
            if (HasRoom && !_taught.Contains(returnAddress))
            {
                Add(returnAddress, rule);
                taught++;
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
        // them, so each would otherwise cost a round. Not libc's: its paths to the wrappers are taught on their own
        // (LibcCallerRules), and its whole graph would fill the map.
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
        if (!library.FirstLessonGiven && !LinuxLibraries.IsLibc(mapping.Path))
        {
            library.FirstLessonGiven = true;
            var io = library.Calls.IoCallReturns(s_ioImports);
            if (io.Count > 0)
            {
                isFirst = true;
                foreach (var seed in io.Concat(library.Calls.IndirectCallReturns(IndirectCallsAtMost)))
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
            if (HasRoom && !_taught.Contains(next + bias) && UnwindRule.TryAt(library.Image, library.Frames, next - 1, next - 1, out var rule))
            {
                Add(next + bias, rule);
                taught++;
            }

            if (library.Calls.FunctionOf(next - 1) is { } function && seen.Add(function))
            {
                foreach (var caller in library.Calls.CallersOf(function))
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

    /// <summary>Whether the kernel's rule map holds <c>capacity</c> rules.</summary>
    private bool IsFull => _taughtCount >= capacity;

    private bool HasRoom => _taughtCount < capacity;

    private void Add(ulong returnAddress, UnwindRule rule)
    {
        _taught.Add(returnAddress);
        _taughtCount++;
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

    /// <summary>A native library as the lessons see it: its unwind table, its call graph, whether it had its first lesson.</summary>
    private sealed class Library(ElfImage image, EhFrame frames)
    {
        public ElfImage Image => image;

        public EhFrame Frames => frames;

        public NativeCallGraph Calls { get; } = new(image, frames);

        public bool FirstLessonGiven { get; set; }

        /// <summary>A lesson failed on its tables: no more are given.</summary>
        public bool Broken { get; set; }
    }
}
