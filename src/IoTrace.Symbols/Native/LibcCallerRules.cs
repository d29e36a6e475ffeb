namespace IoTrace.Symbols.Native;

/// <summary>
/// How to step through libc's own functions on their way to its system call wrappers: the runtime's reads of
/// /proc/meminfo go fopen, then _IO_file_fopen, then _IO_file_open, then open64; getaddrinfo reads /etc/hosts through
/// stdio too. glibc keeps no frame pointers, so a kernel-side walk that stops at the wrapper's caller cannot tell whose
/// IO it is (the runtime's, the app's); with these rules it steps out of libc to the code that called it. The rules are
/// those of the return addresses of libc's direct calls to the functions that hold the <see cref="LibcUnwindTable"/>
/// sites and of its indirect calls, then, breadth first, of the calls to their callers and to the functions that jump
/// to them: about 9,200 in Debian 12's libc.
/// </summary>
internal static class LibcCallerRules
{
    /// <summary>Rules a backend takes, at most: well above Debian 12's 9,200.</summary>
    public const int AtMost = 12_000;

    /// <summary>
    /// The rules, by return address in the process, in the search's order, at most <paramref name="atMost"/>.
    /// </summary>
    /// <param name="table">The wrapper sites of the libc the process loaded.</param>
    /// <param name="image">That libc's image.</param>
    /// <param name="frames">Its unwind table.</param>
    /// <param name="calls">Its call graph.</param>
    /// <param name="atMost">The rules wanted, at most.</param>
    public static List<(ulong ReturnAddress, UnwindRule Rule)> Find(LibcUnwindTable table, ElfImage image, EhFrame frames, NativeCallGraph calls, int atMost)
    {
        var rules = new List<(ulong, UnwindRule)>();
        var seen = new HashSet<ulong>();
        var returns = new HashSet<ulong>();
        var functions = new Queue<ulong>();
        foreach (var site in table.Sites)
        {
            if (calls.FunctionOf(site.Ip - table.LoadBias - 1) is { } function)
            {
                Enqueue(function);
            }
        }

        // Stdio calls its file operations through its vtables (_IO_SYSREAD, _IO_SYSSTAT): an indirect call may lead to
        // a wrapper, so every one is a way there.
        foreach (var returnAddress in calls.IndirectCallReturns(int.MaxValue))
        {
            Add(returnAddress);
        }

        while (functions.Count > 0 && rules.Count < atMost)
        {
            foreach (var returnAddress in calls.CallersOf(functions.Dequeue()))
            {
                Add(returnAddress);
            }
        }

        return rules;

        void Add(ulong returnAddress)
        {
            if (rules.Count < atMost && returns.Add(returnAddress)
                && UnwindRule.TryAt(image, frames, returnAddress - 1, returnAddress - 1, out var rule))
            {
                rules.Add((returnAddress + table.LoadBias, rule));
            }

            if (calls.FunctionOf(returnAddress - 1) is { } caller)
            {
                Enqueue(caller);
            }
        }

        // A function that jumps to another's start leaves no frame: its callers return from the callee too.
        void Enqueue(ulong function)
        {
            if (seen.Add(function))
            {
                functions.Enqueue(function);
                foreach (var tailCaller in calls.TailCallersOf(function))
                {
                    Enqueue(tailCaller);
                }
            }
        }
    }

    /// <summary>The rules of the libc <paramref name="table"/> was read from, read from its file; none if it cannot be read.</summary>
    public static List<(ulong ReturnAddress, UnwindRule Rule)> Find(LibcUnwindTable table, int atMost)
    {
        if (table.LibraryPath is not { } path || table.Sites.Count == 0)
        {
            return [];
        }

        try
        {
            var image = ElfImage.Parse(File.ReadAllBytes(path));
            return EhFrame.Open(image) is { } frames ? Find(table, image, frames, new NativeCallGraph(image, frames), atMost) : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            // Libc's tables did not read as expected: the walk stops at the wrappers' libc callers, as without rules.
            return [];
        }
    }
}
