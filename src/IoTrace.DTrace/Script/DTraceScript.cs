using System.Globalization;
using System.Text;
using IoTrace.Platform.Linux;
using IoTrace.Probes;
using IoTrace.Symbols;
using IoTrace.Symbols.Native;

namespace IoTrace.DTrace.Script;

/// <summary>
/// The D script the backend runs: for each system call of <see cref="LinuxSyscalls"/>, an entry probe that reads the
/// calling thread's trace from the slot table (<see cref="TraceSlotTable"/>) with copyin, and a return probe that
/// prints one line per call of a traced thread: its trace, system call, fd and generation, bytes, wall time and user
/// stack.
/// </summary>
/// <remarks>
/// <para>Lines, not dtrace aggregations: DTrace for Linux 2.0 keeps every key an aggregation ever had in its kernel map
/// (a truncate only marks the entries stale) and its consumer reads the whole map at each snapshot. Keyed by trace, the
/// map only grows: measured, the snapshots cost more than the lines, and the map filled up (aggregation drops). Its
/// truncate also runs after the consumer's snapshot, losing the calls counted in between.</para>
/// <para>The stack is walked by the script, not taken with ustack(): ustack() starts from rbp, which some of glibc's
/// wrappers use for data (open64 keeps the path there), and prints a frame in a library with symbols as
/// <c>module`symbol+offset</c>, without its address. The walk steps out of glibc's wrapper by the libc table
/// (<see cref="LibcUnwindTable"/>), then follows frame pointers, checked to climb the stack so that a stale rbp ends
/// the walk rather than a copyin.</para>
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class DTraceScript
{
    /// <summary>prctl's option for the backend's flush requests: an unused number ("IOTR"), so the call fails with EINVAL and changes nothing.</summary>
    public const int MarkerOption = 0x494f5452;

    /// <summary>
    /// prctl's option that marks a shared connection's socket (<c>prctl(option, fd, id, marked)</c>; id 0 unmarks it):
    /// another unused number ("IOTS"). <c>marked</c> is how many sockets are marked now.
    /// </summary>
    public const int SharedOption = 0x494f5453;

    /// <summary>Return addresses the walk reads after the instruction pointer: the app's frame of Npgsql's calls is up to about 40 deep.</summary>
    public const int Frames = 40;

    private const int FramesPerClause = 8;

    /// <summary>Libc frames the walk steps through by their rules, at most: the collector's stat of /proc/meminfo is four below libcoreclr.</summary>
    public const int NativeSteps = 8;

    /// <param name="pid">The process traced.</param>
    /// <param name="slotTable">Where its trace slot table is.</param>
    /// <param name="libc">The wrapper frames at libc's system call sites.</param>
    /// <param name="rules">How to step through libc's own frames; null: frame pointers only.</param>
    /// <param name="runtime">
    /// Where libc's code and the runtime's are: a call of a trace without context that libc's wrapper got from there is
    /// walked up to its first frame past libc, for the runtime's own IO to be told apart.
    /// </param>
    public static string Generate(int pid, nint slotTable, LibcUnwindTable libc, LibcRuleTable? rules, RuntimeCode runtime)
    {
        var d = new StringBuilder();
        var calls = LinuxSyscalls.X64;
        string Probes(string end, Func<LinuxSyscall, bool> which) =>
            string.Join(", ", calls.Where(which).Select(c => c.TracepointName).Distinct().Select(n => $"syscall::{n}:{end}"));
        var all = (Func<LinuxSyscall, bool>)(_ => true);
        static bool HasPath(LinuxSyscall c) => c.Path != SyscallPath.None;

        Line(d, "#pragma D option quiet");
        Line(d, "#pragma D option switchrate=100hz");
        Line(d, "#pragma D option bufsize=16m");
        Line(d, "#pragma D option strsize=256");
        Line(d, "#pragma D option zdefs");
        Line(d, "#pragma D option dynvarsize=32m");
        Line(d, "int64_t gen[int];");
        Line(d, "int64_t cfa[uint64_t];");
        Line(d, "int64_t savedrbp[uint64_t];");
        Line(d, "int64_t owner[int];");
        Line(d, "int64_t ownergen[int];");
        Line(d, "int64_t ownercontext[int];");
        Line(d, "int64_t shared[int];");
        Line(d, "int64_t sharedcount;");

        // The wrapper frames at libc's syscall sites, by the ip the kernel saved.
        Line(d, "BEGIN {");
        foreach (var site in libc.Sites)
        {
            Line(d, $"  cfa[0x{site.Ip:x}] = {site.CfaOffset}; savedrbp[0x{site.Ip:x}] = {site.RbpOffset};");
        }

        Line(d, "}");
        Line(d, "BEGIN { printf(\"R\\n\"); }");

        // Entry: the thread's trace (0: none) and whether it keeps context, the call's start, its fd argument and the
        // fd's generation as the call starts, and its path.
        Line(d, $"{Probes("entry", all)} /pid == {pid}/ {{ this->slot = (uint64_t *)copyin(0x{slotTable:x} + tid * 16, 16); self->trace = this->slot[0]; self->context = this->slot[0] ? this->slot[1] & {TraceSlotTable.ContextBit} : 0; }}");

        // A call on an fd a trace waits for, from a thread of no trace (the runtime's socket thread retrying a read
        // that would have blocked, reading a connect's result): the trace's (FdOwners, as the eBPF program keeps it).
        Line(d, $"{Probes("entry", c => c.Fd == SyscallFd.Arg0 && c.Name != "close")} /pid == {pid} && !self->trace && owner[(int)arg0] && ownergen[(int)arg0] == gen[(int)arg0]/ {{ self->trace = owner[(int)arg0]; self->context = ownercontext[(int)arg0]; self->owned = 1; }}");

        // A read or write outside every trace on a shared connection's socket, while a trace uses the connection: the
        // connection's, printed under its id (SharedConnections), without stack.
        Line(d, $"{Probes("entry", IsSharedConnectionCall)} /pid == {pid} && !self->trace && sharedcount && shared[(int)arg0]/ {{ self->trace = shared[(int)arg0]; self->context = 0; self->shared = 1; }}");
        Line(d, $"{Probes("entry", all)} /self->trace/ {{ self->ts = timestamp; self->arg0 = (int64_t)arg0; self->gen0 = gen[(int)arg0]; }}");
        Line(d, $"{Probes("entry", c => c.Path == SyscallPath.Arg0)} /self->context && arg0/ {{ self->path = copyinstr(arg0); }}");
        Line(d, $"{Probes("entry", c => c.Path == SyscallPath.Arg1)} /self->context && arg1/ {{ self->path = copyinstr(arg1); }}");
        Line(d, $"{Probes("entry", HasPath)} /self->trace && self->path == 0/ {{ self->path = \"\"; }}");

        // A socket's peer, as the first 24 bytes of its address (IPv4 and IPv6): the socket may be closed before the
        // flush, and then the process cannot ask it.
        Line(d, "syscall::connect:entry /self->context/ { this->a = (uint64_t *)copyin(arg1, 24); self->a0 = this->a[0]; self->a1 = this->a[1]; self->a2 = this->a[2]; }");

        // poll on one fd (a socket's connect waiting): its fd is in the pollfd, in the caller's memory; else no fd.
        Line(d, "syscall::poll:entry, syscall::ppoll:entry /self->trace/ { self->arg0 = -1; }");
        Line(d, "syscall::poll:entry, syscall::ppoll:entry /self->trace && arg1 == 1/ { self->arg0 = *(int *)copyin(arg0, 4); self->gen0 = gen[(int)self->arg0]; }");

        // Each number's generation: its closes in the whole process, counted as the close starts (the kernel frees the
        // number during the call, and another thread may open it again before this one returns).
        Line(d, $"syscall::close:entry /pid == {pid}/ {{ gen[(int)arg0] = gen[(int)arg0] + 1; owner[(int)arg0] = 0; shared[(int)arg0] = 0; }}");

        // The backend marks a shared connection's socket while a trace uses it, and unmarks it after the last.
        Line(d, $"syscall::prctl:entry /pid == {pid} && arg0 == {SharedOption}/ {{ shared[(int)arg1] = (int64_t)arg2; sharedcount = (int64_t)arg3; }}");

        // Return: what the call is (its index in the table), the bytes it moved, its fd (an opener's is its result).
        for (var i = 0; i < calls.Count; i++)
        {
            var call = calls[i];
            if (calls.Take(i).Any(c => c.TracepointName == call.TracepointName))
            {
                continue;
            }

            var moves = ProbeCatalog.Has(ProbeCatalog.IndexOf(call.Probe), ProbeTraits.MovesBytes);
            var fd = (call.Fd, call.Path) switch
            {
                (SyscallFd.Result, _) => "this->fd = (int64_t)arg0 >= 0 ? (int64_t)arg0 : (int64_t)-1; this->gen = (int64_t)arg0 >= 0 ? gen[(int)arg0] : (int64_t)0;",
                (SyscallFd.Arg0, _) => "this->fd = self->arg0; this->gen = self->gen0;",

                // newfstatat(fd, "", AT_EMPTY_PATH) and utimensat(fd, NULL): a call on the fd, as fstat and futimens are.
                (_, SyscallPath.Arg1) => "this->fd = self->path == \"\" && self->arg0 >= 0 ? self->arg0 : (int64_t)-1; this->gen = this->fd >= 0 ? self->gen0 : (int64_t)0;",
                _ when call.Probe == "poll" => "this->fd = self->arg0; this->gen = this->fd >= 0 ? self->gen0 : (int64_t)0;",
                _ => "this->fd = (int64_t)-1; this->gen = (int64_t)0;",
            };
            Line(d, $"syscall::{call.TracepointName}:return /self->trace/ {{ this->call = {i}; this->bytes = {(moves ? "(int64_t)arg0 > 0 ? (int64_t)arg0 : (int64_t)0" : "(int64_t)0")}; {fd} }}");
        }

        // The walk, in clauses of a few frames (each copyin takes scratch space until its clause ends). A trace without
        // context (Summary) keeps zeros, as 64-bit values (D types a clause variable by its first assignment), and no fd,
        // save for a call, not a socket's, whose wrapper returns into libc's own code or the runtime's: its frames up to
        // the first past libc, for the runtime's own IO (the collector's stdio reads) to be told apart.
        Line(d, $"{Probes("return", all)} /self->trace/ {{ this->deep = self->context; }}");
        Line(d, $"{Probes("return", all)} /self->trace && !self->context/ {{ this->fd = (int64_t)-1; this->gen = (int64_t)0; this->pc = (uint64_t)0; {string.Join(" ", Enumerable.Range(0, Frames + 1).Select(i => $"this->r{i} = (uint64_t)0;"))} }}");
        if (runtime.Libc.Concat(runtime.Runtime).ToList() is { Count: > 0 } callers)
        {
            var inRanges = string.Join(" || ", callers.Select(r => $"(this->ret >= 0x{r.Start:x} && this->ret < 0x{r.End:x})"));
            Line(d, $"{Probes("return", static c => !c.IsSocketOnly)} /self->trace && !self->context && cfa[uregs[R_PC]]/ {{ this->ret = *(uint64_t *)copyin(uregs[R_SP] + cfa[uregs[R_PC]] - 8, 8); this->deep = {inRanges}; }}");
        }

        Line(d, $"{Probes("return", all)} /this->deep/ {{");
        Line(d, "  this->pc = uregs[R_PC]; this->sp = uregs[R_SP]; this->c = cfa[this->pc];");
        Line(d, "  this->w = (uint64_t *)copyin(this->sp + (this->c ? this->c - 16 : 0), 16);");
        Line(d, "  this->r0 = this->c ? this->w[1] : 0;");
        Line(d, "  this->fp = this->c && savedrbp[this->pc] ? *(uint64_t *)copyin(this->sp + this->c - savedrbp[this->pc], 8) : uregs[R_RBP];");
        Line(d, "  this->ok = this->fp >= this->sp && this->fp - this->sp < 8388608;");

        // The wrapper's caller keeps no frame pointer where rbp is none above its frame, or points at a word that is no
        // frame pointer either (realpath keeps a pointer into its buffers there): a function of libc's own (the
        // runtime's fopen and realpath, stdio's vtable calls), stepped through by its rule, until a frame without one
        // (libc's caller). That frame is the stack's next, and the frame-pointer walk goes on from there. Without
        // context, libc's frames are always stepped through by their rules: the frame past them is all that is kept.
        Line(d, "  this->ip = this->r0; this->cfa = this->sp + this->c; this->pre = (uint64_t)0;");
        Line(d, "  this->up = this->c && this->fp >= this->cfa && this->fp - this->cfa < 1048576 ? *(uint64_t *)copyin(this->fp, 8) : 0;");
        Line(d, $"  this->native = {(rules is { Count: > 0 } ? "this->c && (!self->context || this->up <= this->fp || this->up - this->fp >= 1048576)" : "0")};");
        Line(d, "}");
        if (rules is { Count: > 0 })
        {
            for (var step = 0; step < NativeSteps; step++)
            {
                Line(d, $"{Probes("return", all)} /this->deep && this->native/ {{");
                Line(d, $"  this->e = (uint64_t *)copyin(0x{rules.Displacements:x} + ((this->ip * 0x{LibcRuleTable.GroupMultiplier:x}) >> {64 - LibcRuleTable.GroupBits}) * 8, 8);");
                Line(d, $"  this->e = (uint64_t *)copyin(0x{rules.Address:x} + (((this->ip + this->e[0]) * 0x{LibcRuleTable.PlaceMultiplier:x}) >> {64 - LibcRuleTable.Bits}) * 16, 16);");
                Line(d, "  this->v = this->e[0] == this->ip ? this->e[1] : 0;");
                Line(d, $"  this->next = ((this->v & {UnwindRule.CfaFromRbpBit}) ? this->fp : this->cfa) + (this->v & 0x7fffffff);");
                Line(d, "  this->native = this->v && this->next > this->cfa && this->next - this->cfa < 1048576;");
                Line(d, "  this->fp = this->native && (this->v >> 32) ? *(uint64_t *)copyin(this->next - (this->v >> 32), 8) : this->fp;");
                Line(d, "  this->ip = this->native ? *(uint64_t *)copyin(this->next - 8, 8) : this->ip;");
                Line(d, "  this->cfa = this->native ? this->next : this->cfa;");
                Line(d, "  this->pre = this->native ? this->ip : this->pre;");
                Line(d, "}");
            }

            Line(d, $"{Probes("return", all)} /this->deep && this->pre/ {{ this->ok = this->fp >= this->cfa && this->fp - this->cfa < 8388608; }}");
        }

        // Without context, the first frame past libc is as far as the walk goes: it tells the runtime's calls apart.
        Line(d, $"{Probes("return", all)} /this->deep && !self->context/ {{ this->r1 = this->pre; }}");

        for (var first = 1; first <= Frames; first += FramesPerClause)
        {
            Line(d, $"{Probes("return", all)} /self->context/ {{");
            for (var i = first; i < first + FramesPerClause; i++)
            {
                if (i == 1)
                {
                    // The frame past libc's own, if the walk stepped through them: the frame-pointer walk starts after it.
                    Line(d, "  this->w = (uint64_t *)copyin(this->ok && !this->pre ? this->fp : this->sp, 16); this->r1 = this->pre ? this->pre : this->ok ? this->w[1] : 0; this->n = this->pre ? this->fp : this->ok ? this->w[0] : 0;");
                    Line(d, "  this->ok = this->ok && (this->pre || (this->n > this->fp && this->n - this->fp < 1048576)); this->fp = this->n;");
                    continue;
                }

                Line(d, $"  this->w = (uint64_t *)copyin(this->ok ? this->fp : this->sp, 16); this->r{i} = this->ok ? this->w[1] : 0; this->n = this->ok ? this->w[0] : 0;");
                Line(d, "  this->ok = this->ok && this->n > this->fp && this->n - this->fp < 1048576; this->fp = this->n;");
            }

            Line(d, "}");
        }

        // One line per call, with its stack (dtrace's aggregations cannot serve here, see above; printing each stack
        // once, by a hash kept in a D array, measured no cheaper). A connect's peer on a line of its own.
        var frames = string.Join(", ", Enumerable.Range(0, Frames + 1).Select(i => $"this->r{i}").Prepend("this->pc"));
        var head = $"C %d %d %d %d %d %d {string.Join(' ', Enumerable.Repeat("%x", Frames + 2))}";
        const string Fields = "self->trace, this->call, this->fd, this->gen, this->bytes, timestamp - self->ts";
        Line(d, $"{Probes("return", c => !HasPath(c))} /self->trace/ {{ printf(\"{head}\\n\", {Fields}, {frames}); }}");
        Line(d, $"{Probes("return", HasPath)} /self->trace/ {{ printf(\"P{head[1..]} %s\\n\", {Fields}, {frames}, self->path); }}");
        Line(d, "syscall::connect:return /self->context && self->arg0 >= 0/ { printf(\"N %d %d %d %x %x %x\\n\", self->trace, self->arg0, self->gen0, self->a0, self->a1, self->a2); }");

        // Ownership: the retry the owner waited for ends its wait once it does not fail with EAGAIN; a read or write
        // that would block, or a connect under way, makes its trace the fd's owner.
        var movesOnFd = (Func<LinuxSyscall, bool>)(c => c.Fd == SyscallFd.Arg0 && ProbeCatalog.Kind(ProbeCatalog.IndexOf(c.Probe)) != ProbeKind.Setup);
        Line(d, $"{Probes("return", movesOnFd)} /self->owned && (int64_t)arg0 != -11/ {{ owner[(int)self->arg0] = 0; }}");
        Line(d, $"{Probes("return", movesOnFd)} /self->trace && !self->shared && (int64_t)arg0 == -11/ {{ owner[(int)self->arg0] = self->trace; ownergen[(int)self->arg0] = self->gen0; ownercontext[(int)self->arg0] = self->context; }}");
        Line(d, "syscall::connect:return /self->trace && (int64_t)arg0 == -115/ { owner[(int)self->arg0] = self->trace; ownergen[(int)self->arg0] = self->gen0; ownercontext[(int)self->arg0] = self->context; }");
        Line(d, $"{Probes("return", all)} /self->trace/ {{ self->trace = 0; self->context = 0; self->owned = 0; self->ts = 0; self->arg0 = 0; self->gen0 = 0; self->path = 0; self->a0 = 0; self->a1 = 0; self->a2 = 0; self->shared = 0; }}");

        // A flush marker, made on each CPU in turn.
        Line(d, $"syscall::prctl:entry /pid == {pid} && arg0 == {MarkerOption}/ {{ printf(\"F %d %d\\n\", cpu, arg1); }}");

        // The process's end, killed or not (a write to its closed pipe would not end dtrace: it inherits the runtime's
        // ignored SIGPIPE).
        Line(d, $"proc:::exit /pid == {pid}/ {{ exit(0); }}");

        // A line each second: stopped traces that waited too long for their flush are cut short on it.
        Line(d, "tick-1s { printf(\"T\\n\"); }");
        return d.ToString();
    }

    /// <summary>The calls counted for a shared connection outside traces: its socket's reads and writes, as the eBPF backend's.</summary>
    internal static bool IsSharedConnectionCall(LinuxSyscall call) =>
        call.Fd == SyscallFd.Arg0 && ProbeCatalog.Kind(ProbeCatalog.IndexOf(call.Probe)) is ProbeKind.Read or ProbeKind.Write;

    private static void Line(StringBuilder d, string text) => d.Append(text).Append('\n');
}
