using System.Buffers.Binary;
using System.Globalization;
using IoTrace.Ebpf.Kernel;

namespace IoTrace.Ebpf.Attribution;

/// <summary>
/// Teaches the BPF walk to step through native libraries built without frame pointers (e_sqlite3), so that their IO
/// reaches the managed frames above them and the app's line. The walk marks a stack that ends at a return address it
/// has no rule for (<see cref="BpftraceScript.UnknownFrameMarker"/>, or a flagged frame in such a library); this class
/// reads that library's .eh_frame, finds the frame's rule at that address and hands it to the program
/// (<see cref="UnwindRule"/>): the next call on that path walks further. A lesson also teaches the return addresses of
/// the direct calls to that frame's function, and to their callers in turn (through the PLT too), up to
/// <see cref="RulesPerLesson"/>. A library's first lesson teaches its indirect calls' return addresses and the callers
/// of their functions the same way, up to <see cref="FirstLessonRules"/>: for e_sqlite3 that is nearly every frame an
/// IO call can have (IO reaches libc through its syscall table, an indirect call), so the next call walks through.
/// Rules are never taken back: the runtime never unloads the libraries its P/Invokes load (one freed with
/// NativeLibrary.Free, and another loaded at its addresses, would mislead the walk). Used by one thread (the flush processor).
/// </summary>
internal sealed class NativeUnwindRules(Action<ulong, long> teach, int capacity, string mapsPath = "/proc/self/maps")
{
    /// <summary>Rules taught in all, at most: they share the kernel map with libc's wrapper sites (16,384 entries).</summary>
    public const int MaxRules = 15_000;

    /// <summary>A library's indirect calls found for its first lesson, at most.</summary>
    public const int IndirectCallsAtMost = 2_048;

    /// <summary>Rules a library's first lesson teaches, at most: e_sqlite3's whole search from its indirect calls is about 11,400.</summary>
    public const int FirstLessonRules = 12_000;

    /// <summary>Rules taught per stack learned from, at most: each is an entry in the kernel's rule map.</summary>
    public const int RulesPerLesson = 512;

    private readonly HashSet<ulong> _taught = [];
    private readonly Dictionary<string, Library?> _libraries = new(StringComparer.Ordinal);
    private List<Mapping> _mappings = [];
    private long _mappingsRead = long.MinValue / 2;

    private FirstLesson[] _firstLessons = [];

    /// <summary>Rules handed to the program so far.</summary>
    public int Count => _taught.Count;

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
        ulong? ip = null;
        if (stack.Length >= 2 && stack[^1] == BpftraceScript.UnknownFrameMarker)
        {
            ip = stack[^2] & ~BpftraceScript.PastNativeFlag;
        }
        else if (Array.FindIndex(stack, f => (f & BpftraceScript.PastNativeFlag) != 0) is var past and > 0)
        {
            ip = stack[past] & ~BpftraceScript.PastNativeFlag;
            if (Find(ip.Value) is not { } mapping || Load(mapping.Path) is null)
            {
                // Managed code (or code without unwind tables): the chain from there on is the frame pointers'.
                return false;
            }
        }

        if (ip is { } unknown)
        {
            Teach(unknown);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Teaches the rule at return address <paramref name="ip"/>, then those of the direct and PLT calls to its function
    /// and to their callers (a library's first lesson: from its indirect calls too). Returns the rules taught.
    /// </summary>
    public int Teach(ulong ip)
    {
        if (_taught.Count >= capacity || _taught.Contains(ip) || Find(ip) is not { } mapping || Load(mapping.Path) is not { } library
            || library.Image.LoadBias(mapping.Start, mapping.Offset) is not { } bias)
        {
            return 0;
        }

        // The function the frame is in, then the functions that call it directly, breadth first. A library's first
        // lesson also starts from all its indirect calls' return addresses (e_sqlite3 has about 450, against 19,000
        // direct): a search by direct calls cannot cross them, so each would otherwise cost a round. Not libc's: its
        // frames above a wrapper are few, and its whole graph would fill the map.
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var taught = 0;
        var queue = new Queue<ulong>();
        queue.Enqueue(ip - bias);
        var first = !library.FirstLessonGiven && !LibcUnwindTable.IsLibc(mapping.Path);
        var budget = first ? FirstLessonRules : RulesPerLesson;
        if (first)
        {
            library.FirstLessonGiven = true;
            foreach (var returnAddress in library.IndirectCallReturns())
            {
                queue.Enqueue(returnAddress);
            }
        }

        var seen = new HashSet<ulong>();
        while (queue.Count > 0 && taught < budget && _taught.Count < capacity)
        {
            var returnAddress = queue.Dequeue();
            if (!_taught.Contains(returnAddress + bias) && UnwindRule.TryAt(library.Image, library.Frames, returnAddress - 1, returnAddress - 1, out var rule))
            {
                _taught.Add(returnAddress + bias);
                teach(returnAddress + bias, rule.Packed);
                taught++;
            }

            if (library.FunctionOf(returnAddress - 1) is { } function && seen.Add(function))
            {
                foreach (var caller in library.CallersOf(function))
                {
                    queue.Enqueue(caller);
                }
            }
        }

        if (first)
        {
            Volatile.Write(ref _firstLessons, [.. _firstLessons, new FirstLesson(mapping.Path, taught, System.Diagnostics.Stopwatch.GetElapsedTime(started))]);
        }

        return taught;
    }

    private Mapping? Find(ulong ip)
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

        _mappings = ReadMappings(mapsPath);
        _mappingsRead = Environment.TickCount64;
        return FindIn(_mappings, ip);
    }

    private static Mapping? FindIn(List<Mapping> mappings, ulong ip)
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

    /// <summary>The executable file mappings of the process: where each starts and ends, and which file offset it maps.</summary>
    private static List<Mapping> ReadMappings(string mapsPath)
    {
        var mappings = new List<Mapping>();
        try
        {
            foreach (var line in File.ReadLines(mapsPath))
            {
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (fields.Length < 6 || !fields[1].Contains('x', StringComparison.Ordinal) || !fields[5].StartsWith('/'))
                {
                    continue;
                }

                var range = fields[0].Split('-');
                mappings.Add(new Mapping(
                    ulong.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    ulong.Parse(fields[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                    fields[5]));
            }
        }
        catch (IOException)
        {
            // No maps: nothing is learned.
        }

        return mappings;
    }

    private readonly record struct Mapping(ulong Start, ulong End, ulong Offset, string Path);

    /// <summary>A library's first lesson: its path, the rules it taught, the time it took (the search of its code included, not reading the file).</summary>
    internal readonly record struct FirstLesson(string Library, int Rules, TimeSpan Elapsed);

    /// <summary>One library's unwind table, its functions (FDE starts) and, built when first asked, who calls each directly.</summary>
    private sealed class Library(ElfImage image, EhFrame frames)
    {
        private readonly ulong[] _functions = frames.Starts();
        private Dictionary<ulong, List<ulong>>? _callers;

        public ElfImage Image => image;

        public bool FirstLessonGiven { get; set; }

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

        // A byte E8 whose 32-bit displacement lands exactly on a function's first byte, or on a PLT stub that jumps to
        // one of this library's functions, is taken for a call: one inside another instruction that happens to do so
        // only adds a rule for an address that is never a return address.
        private Dictionary<ulong, List<ulong>> IndexCalls()
        {
            var callers = new Dictionary<ulong, List<ulong>>();
            var slots = image.GotTargets();
            var stubs = new Dictionary<ulong, ulong?>();
            foreach (var segment in image.ExecutableSegments)
            {
                var code = image.Bytes.AsSpan((int)segment.Offset, (int)segment.FileSize);
                for (var i = code.IndexOf((byte)0xe8); i >= 0 && i + 5 <= code.Length; i = Next(code, i))
                {
                    var returnAddress = segment.Address + (ulong)i + 5;
                    var target = returnAddress + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(code.Slice(i + 1, 4));
                    if (Array.BinarySearch(_functions, target) < 0)
                    {
                        if (!stubs.TryGetValue(target, out var function))
                        {
                            stubs[target] = function = PltTarget(target, slots);
                        }

                        if (function is not { } resolved)
                        {
                            continue;
                        }

                        target = resolved;
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

        /// <summary>The function a PLT stub at <paramref name="stub"/> jumps to (<c>[endbr64] [bnd] jmp *slot(%rip)</c>), if this library defines it.</summary>
        private ulong? PltTarget(ulong stub, Dictionary<ulong, ulong> slots)
        {
            if (slots.Count == 0)
            {
                return null;
            }

            var bytes = image.BytesAt(stub);
            var at = bytes.StartsWith((ReadOnlySpan<byte>)[0xf3, 0x0f, 0x1e, 0xfa]) ? 4 : 0;
            at += bytes.Length > at && bytes[at] == 0xf2 ? 1 : 0;
            if (bytes.Length < at + 6 || bytes[at] != 0xff || bytes[at + 1] != 0x25)
            {
                return null;
            }

            var slot = stub + (ulong)(at + 6) + (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(at + 2, 4));
            return slots.TryGetValue(slot, out var function) && Array.BinarySearch(_functions, function) >= 0 ? function : null;
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
