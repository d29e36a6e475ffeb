using System.Globalization;
using System.Text;
using IoTrace.Platform.Linux;
using IoTrace.Probes;
using IoTrace.Symbols;
using IoTrace.Symbols.Native;

namespace IoTrace.DTrace.Script;

/// <summary>
/// The D script the backend runs: on the raw system call tracepoints, for each call of the process that
/// <see cref="LinuxSyscalls"/> counts, an entry clause that reads the calling thread's trace from the slot table
/// (<see cref="TraceSlotTable"/>) with copyin, and return clauses that print one line per call of a traced thread: its
/// trace, system call, fd and generation, bytes, wall time and user stack.
/// </summary>
/// <remarks>
/// <para>Two probes, not one per system call: the kernel loads and verifies a BPF program per probe, and with a probe
/// pair per call (150 programs) dtrace took 12 to 13 s to attach, against about 2 s now. What a clause does for some
/// calls only is a bit of the call's entry in the script's <c>sc</c> array (<see cref="Bits"/>). Every other process's
/// system calls, and this one's that are not counted, pay for the tracepoints (bench/host-cost.sh).</para>
/// <para>Lines, not dtrace aggregations: DTrace for Linux 2.0's consumer reads every key of the kernel's maps into a
/// hash of its own at each snapshot, and keyed by trace, a busy server's keys pile up faster than the flushes print and
/// truncate them: measured, the snapshots cost more than the lines, the maps filled up (aggregation drops), and with
/// Summary's calls aggregated dtrace stalled within seconds at 1,200 requests a second. Its truncate also deletes the
/// printed keys after the snapshot, losing the calls counted in between, unless the sets take turns
/// (<see cref="SyscallProviderScript"/>).</para>
/// <para>The stack is walked by the script, not taken with ustack(): ustack() starts from rbp, which some of glibc's
/// wrappers use for data (open64 keeps the path there), and prints a frame in a library with symbols as
/// <c>module`symbol+offset</c>, without its address. The walk steps out of glibc's wrapper by its system call site's
/// rule (<see cref="LibcRuleTable.SystemCallSites"/>), then follows frame pointers, checked to climb the stack so that a
/// stale rbp ends the walk rather than a copyin. The rules are tables in the process's memory, read with copyin: a D
/// array filled in BEGIN makes a program the kernel takes about a second to verify.</para>
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

    /// <summary>The frames a call without context prints (its S line): the instruction pointer, the wrapper's return address, the first frame past libc.</summary>
    public const int ShortFrames = 3;

    /// <summary>The size of the script's arrays by system call number: above every number of the table.</summary>
    private const int TableSize = 512;

    /// <summary>The fds the script keeps a generation, an owner and a shared connection's marking for: 0 to this, less one.</summary>
    public const int FdLimit = 65536;

    /// <summary>The element of the per-fd arrays past the fds: what a clause stores when it has nothing to store.</summary>
    private const int Sink = FdLimit;

    /// <summary>prctl's number on x86_64: the backend's markers are prctl calls, not in the table.</summary>
    private const int PrctlNumber = 157;

    /// <summary>Libc frames the walk steps through by their rules, at most: the collector's stat of /proc/meminfo is four below libcoreclr.</summary>
    public const int NativeSteps = 8;

    /// <summary>Native steps, and frames, the walk's clauses take each: fewer clauses cost every process's calls less, longer ones take longer to verify.</summary>
    private const int NativeStepsPerClause = 4;

    /// <inheritdoc cref="NativeStepsPerClause"/>
    private const int FramesPerClause = 20;

    /// <param name="pid">The process traced.</param>
    /// <param name="slotTable">Where its trace slot table is.</param>
    /// <param name="sites">The wrapper frames at libc's system call sites.</param>
    /// <param name="rules">How to step through libc's own frames; null: frame pointers only.</param>
    /// <param name="runtime">
    /// Where libc's code and the runtime's are: a call of a trace without context that libc's wrapper got from there is
    /// walked up to its first frame past libc, for the runtime's own IO to be told apart.
    /// </param>
    public static string Generate(int pid, nint slotTable, LibcRuleTable sites, LibcRuleTable? rules, RuntimeCode runtime)
    {
        var d = new StringBuilder();
        var calls = LinuxSyscalls.X64;

        // Every clause is on the two raw system call tracepoints; a clause for some calls only tests their bits in
        // sc[], set in BEGIN (see Bits). this->s is the call's bits: set by the first clause on entry, for every call
        // of the process, and on return for a traced call. A call's arguments are read from the registers it was made with (x86_64: rdi, rsi,
        // rdx, r10): the tracepoint's own args[1] array read as an invalid address now and then.
        const string Enter = "sdt:raw_syscalls::sys_enter";
        const string Exit = "sdt:raw_syscalls::sys_exit";
        string Has(Bits bits) => $"(this->s & {(int)bits})";
        const string Fd0 = "(int)uregs[R_RDI]";
        static string InRange(string fd) => $"({fd} >= 0 && {fd} < {FdLimit})";

        Line(d, "#pragma D option quiet");
        Line(d, "#pragma D option switchrate=100hz");
        Line(d, "#pragma D option bufsize=16m");
        Line(d, "#pragma D option strsize=256");
        // Scratch for the copyins of the walk's longest clause: 20 frames of 16 bytes, or 4 native steps of 40.
        Line(d, "#pragma D option scratchsize=2048");
        Line(d, "#pragma D option zdefs");
        Line(d, "#pragma D option dynvarsize=32m");
        Line(d, $"int sc[{TableSize}];");
        Line(d, $"int call[{TableSize}];");

        // What the script keeps per fd, in arrays indexed by the fd (below FdLimit; a larger fd has no generation, owner
        // or marking): with associative arrays, DTrace for Linux 2.0.1 read back an fd's owner once as the trace id
        // stored there plus one, as if another fd's generation increment had landed on it.
        // One element more than the fds: a clause that stores to an element only for some calls stores to this one
        // (Sink) for the others, so that one clause serves where two predicates would (every clause costs every other
        // process's system calls a test).
        foreach (var array in (string[])["gen", "owner", "ownergen", "ownercontext", "shared"])
        {
            Line(d, $"int64_t {array}[{FdLimit + 1}];");
        }

        Line(d, "int64_t sharedcount;");

        // Each counted call's bits and its index in the table, by its number.
        Line(d, "BEGIN {");
        for (var i = 0; i < calls.Count; i++)
        {
            Line(d, $"  sc[{calls[i].Number}] = {(int)BitsOf(calls[i])}; call[{calls[i].Number}] = {i};");
        }

        Line(d, "}");
        Line(d, "BEGIN { printf(\"R\\n\"); }");

        // Entry: the thread's trace (0: none) and whether it keeps context, the call's start, its fd argument and the
        // fd's generation as the call starts, and its path.
        Line(d, $"{Enter} /pid == {pid}/ {{ this->s = args[0] >= 0 && args[0] < {TableSize} ? sc[args[0]] : 0; }}");
        Line(d, $"{Enter} /pid == {pid} && this->s/ {{ this->slot = (uint64_t *)copyin(0x{slotTable:x} + tid * 16, 16); self->trace = this->slot[0]; self->context = this->slot[0] ? this->slot[1] & {TraceSlotTable.ContextBit} : 0; self->site = this->slot[0] ? this->slot[1] >> {TraceSlotTable.InheritedSiteShift} : 0; }}");

        // A call on an fd a trace waits for, from a thread of no trace (the runtime's socket thread retrying a read
        // that would have blocked, reading a connect's result): the trace's (FdOwners, as the eBPF program keeps it).
        Line(d, $"{Enter} /pid == {pid} && {Has(Bits.OnFdNotClose)} && !self->trace && {InRange(Fd0)} && owner[(int)uregs[R_RDI]] && ownergen[(int)uregs[R_RDI]] == gen[(int)uregs[R_RDI]]/ {{ self->trace = owner[(int)uregs[R_RDI]]; self->context = ownercontext[(int)uregs[R_RDI]]; self->owned = 1; }}");

        // A read or write outside every trace on a shared connection's socket, while a trace uses the connection: the
        // connection's, printed under its id (SharedConnections), without stack.
        Line(d, $"{Enter} /pid == {pid} && {Has(Bits.SharedConnection)} && !self->trace && sharedcount && {InRange(Fd0)} && shared[(int)uregs[R_RDI]]/ {{ self->trace = shared[(int)uregs[R_RDI]]; self->context = 0; self->shared = 1; }}");
        // poll's fd is in the pollfd, in the caller's memory (below); a poll of more than one fd has none.
        Line(d, $"{Enter} /pid == {pid} && self->trace/ {{ self->ts = timestamp; self->arg0 = {Has(Bits.FdPoll)} ? (int64_t)-1 : (int64_t)uregs[R_RDI]; self->gen0 = !{Has(Bits.FdPoll)} && {InRange(Fd0)} ? gen[(int)uregs[R_RDI]] : 0; }}");
        Line(d, $"{Enter} /pid == {pid} && self->context && (({Has(Bits.PathArg0)} && uregs[R_RDI]) || ({Has(Bits.PathArg1)} && uregs[R_RSI]))/ {{ self->path = copyinstr({Has(Bits.PathArg0)} ? uregs[R_RDI] : uregs[R_RSI]); }}");
        Line(d, $"{Enter} /pid == {pid} && self->trace && {Has(Bits.Path)} && self->path == 0/ {{ self->path = \"\"; }}");

        // A socket's peer, as the first 24 bytes of its address (IPv4 and IPv6): the socket may be closed before the
        // flush, and then the process cannot ask it.
        Line(d, $"{Enter} /pid == {pid} && self->context && args[0] == {Number("connect")}/ {{ this->a = (uint64_t *)copyin(uregs[R_RSI], 24); self->a0 = this->a[0]; self->a1 = this->a[1]; self->a2 = this->a[2]; }}");

        // poll on one fd (a socket's connect waiting).
        Line(d, $"{Enter} /pid == {pid} && self->trace && {Has(Bits.FdPoll)} && uregs[R_RSI] == 1/ {{ self->arg0 = *(int *)copyin(uregs[R_RDI], 4); self->gen0 = {InRange("self->arg0")} ? gen[(int)self->arg0] : 0; }}");

        // Each number's generation: its closes in the whole process, counted as the close starts (the kernel frees the
        // number during the call, and another thread may open it again before this one returns).
        Line(d, $"{Enter} /pid == {pid} && args[0] == {Number("close")} && {InRange(Fd0)}/ {{ gen[(int)uregs[R_RDI]] = gen[(int)uregs[R_RDI]] + 1; owner[(int)uregs[R_RDI]] = 0; shared[(int)uregs[R_RDI]] = 0; }}");

        // The backend marks a shared connection's socket while a trace uses it, and unmarks it after the last; and asks
        // for a flush marker, made on each CPU in turn.
        Line(d, $"{Enter} /pid == {pid} && args[0] == {PrctlNumber} && uregs[R_RDI] == {SharedOption} && {InRange("(int)uregs[R_RSI]")}/ {{ shared[(int)uregs[R_RSI]] = (int64_t)uregs[R_RDX]; sharedcount = (int64_t)uregs[R_R10]; }}");
        Line(d, $"{Enter} /pid == {pid} && args[0] == {PrctlNumber} && uregs[R_RDI] == {MarkerOption}/ {{ printf(\"F %d %d\\n\", cpu, uregs[R_RSI]); }}");

        // A clause variable keeps its value from the last probe firing on the CPU, whichever process's: the walk's
        // clauses, which test this->deep, must not run on another process's stale value (their copyins would fail there).
        // Every clause tests this->mine (or the pid, on entry) before a thread-local variable: a thread-local is a map
        // lookup, and every other process's system calls pass through these clauses too.
        Line(d, $"{Exit} {{ this->deep = (uint64_t)0; this->mine = pid == {pid}; }}");

        // Return: what the call is (its index in the table), the bytes it moved, its fd: its argument's (newfstatat(fd,
        // "", AT_EMPTY_PATH) and utimensat(fd, NULL) are calls on the fd, as fstat and futimens are; poll's is the one it
        // waited for), else an opener's result. A trace without context (Summary) keeps no fd, and zeros for the stack,
        // as 64-bit values (D types a clause variable by its first assignment); the walk below overwrites them.
        Line(d, $"{Exit} /this->mine && self->trace/ {{");
        Line(d, $"  this->s = sc[args[0]]; this->call = call[args[0]]; this->bytes = {Has(Bits.MovesBytes)} && args[1] > 0 ? (int64_t)args[1] : (int64_t)0;");
        Line(d, $"  this->onarg = {Has(Bits.FdArg0)} || ({Has(Bits.FdIfEmptyPath)} && self->path == \"\" && self->arg0 >= 0) || ({Has(Bits.FdPoll)} && self->arg0 >= 0);");
        Line(d, $"  this->onresult = !this->onarg && {Has(Bits.FdResult)} && args[1] >= 0;");
        Line(d, "  this->fd = !self->context ? (int64_t)-1 : this->onarg ? self->arg0 : this->onresult ? (int64_t)args[1] : (int64_t)-1;");
        Line(d, $"  this->gen = !self->context ? (int64_t)0 : this->onarg ? self->gen0 : this->onresult && args[1] < {FdLimit} ? gen[this->onresult && args[1] < {FdLimit} ? (int)args[1] : {Sink}] : (int64_t)0;");
        Line(d, "  this->deep = self->context;");
        Line(d, $"  this->pc = (uint64_t)0; {string.Join(" ", Enumerable.Range(0, Frames + 1).Select(i => $"this->r{i} = (uint64_t)0;"))}");
        Line(d, "}");

        // The walk (each copyin takes scratch space until its clause ends: scratchsize above). Without context, only for
        // a call, not a socket's, whose wrapper returns into libc's own code or the runtime's: its frames up to
        // the first past libc, for the runtime's own IO (the collector's stdio reads) to be told apart.
        // The wrapper frame at libc's system call site, by the ip the kernel saved (sites): the CFA's offset from sp
        // (c, 0 where the site is unknown) and where the caller's rbp is saved (so, 0: still in rbp).
        Line(d, $"{Exit} /this->mine && self->trace && (self->context || {Has(Bits.RuntimeCheck)})/ {{");
        Lookup(d, sites, "uregs[R_PC]");
        Line(d, "  this->c = this->v & 0x7fffffff; this->so = this->v >> 32;");
        Line(d, "}");
        if (runtime.Libc.Concat(runtime.Runtime).ToList() is { Count: > 0 } callers)
        {
            var inRanges = string.Join(" || ", callers.Select(r => $"(this->ret >= 0x{r.Start:x} && this->ret < 0x{r.End:x})"));
            Line(d, $"{Exit} /this->mine && self->trace && !self->context && {Has(Bits.RuntimeCheck)} && this->c/ {{ this->ret = *(uint64_t *)copyin(uregs[R_SP] + this->c - 8, 8); this->deep = {inRanges}; }}");
        }

        Line(d, $"{Exit} /this->mine && this->deep/ {{");
        Line(d, "  this->pc = uregs[R_PC]; this->sp = uregs[R_SP];");
        Line(d, "  this->w = (uint64_t *)copyin(this->sp + (this->c ? this->c - 16 : 0), 16);");
        Line(d, "  this->r0 = this->c ? this->w[1] : 0;");
        Line(d, "  this->fp = this->c && this->so ? *(uint64_t *)copyin(this->sp + this->c - this->so, 8) : uregs[R_RBP];");
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

        // A few steps per clause (a clause per step would cost every other process's calls a test per step; one clause
        // for all, a longer verification at attach): a step after the last one that applied changes nothing. Without
        // context, the first frame past libc is as far as the walk goes (r1): it tells the runtime's calls apart.
        if (rules is { Count: > 0 })
        {
            for (var step = 0; step < NativeSteps; step++)
            {
                if (step % NativeStepsPerClause == 0)
                {
                    Line(d, $"{Exit} /this->mine && this->deep && this->native/ {{");
                }

                Lookup(d, rules, "this->ip", step % NativeStepsPerClause == 0 ? null : "this->native");
                Line(d, $"  this->next = ((this->v & {UnwindRule.CfaFromRbpBit}) ? this->fp : this->cfa) + (this->v & 0x7fffffff);");
                Line(d, "  this->native = this->v && this->next > this->cfa && this->next - this->cfa < 1048576;");
                Line(d, "  this->fp = this->native && (this->v >> 32) ? *(uint64_t *)copyin(this->next - (this->v >> 32), 8) : this->fp;");
                Line(d, "  this->ip = this->native ? *(uint64_t *)copyin(this->next - 8, 8) : this->ip;");
                Line(d, "  this->cfa = this->native ? this->next : this->cfa;");
                Line(d, "  this->pre = this->native ? this->ip : this->pre;");
                if (step % NativeStepsPerClause == NativeStepsPerClause - 1 || step == NativeSteps - 1)
                {
                    // Where the steps end, in whichever clause: the frame past libc's.
                    Line(d, "  this->ok = this->pre ? this->fp >= this->cfa && this->fp - this->cfa < 8388608 : this->ok;");
                    Line(d, "  this->r1 = this->pre;");
                    Line(d, "}");
                }
            }
        }

        // The frame-pointer walk, a few frames per clause (as the native steps).
        for (var i = 1; i <= Frames; i++)
        {
            if (i % FramesPerClause == 1)
            {
                if (i != 1)
                {
                    Line(d, "}");
                }

                Line(d, $"{Exit} /this->mine && self->context/ {{");
            }

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

        // Ownership: a read or write that would block, or a connect under way, makes its trace the fd's owner (take);
        // the retry the owner waited for ends its wait once it does not fail with EAGAIN (release). Stores that neither
        // applies to go to the sink.
        Line(d, $"{Exit} /this->mine && self->trace && ({Has(Bits.MovesOnFd)} || args[0] == {Number("connect")}) && {InRange("self->arg0")}/ {{");
        Line(d, $"  this->take = ({Has(Bits.MovesOnFd)} && args[1] == -11 && !self->shared) || (args[0] == {Number("connect")} && args[1] == -115);");
        Line(d, $"  this->release = self->owned && {Has(Bits.MovesOnFd)} && args[1] != -11;");
        Line(d, $"  this->i = this->take || this->release ? (int)self->arg0 : {Sink}; owner[this->i] = this->take ? self->trace : 0;");
        Line(d, $"  this->i = this->take ? (int)self->arg0 : {Sink}; ownergen[this->i] = self->gen0; ownercontext[this->i] = self->context;");
        Line(d, "}");

        // A connect's peer, on a line of its own (the process pairs it with the connect's line).
        Line(d, $"{Exit} /this->mine && self->context && args[0] == {Number("connect")} && self->arg0 >= 0/ {{ printf(\"N %d %d %d %x %x %x\\n\", self->trace, self->arg0, self->gen0, self->a0, self->a1, self->a2); }}");

        // One line per call, with its stack (dtrace's aggregations cannot serve here, see above; printing each stack
        // once, by a hash kept in a D array, measured no cheaper).
        var frames = string.Join(", ", Enumerable.Range(0, Frames + 1).Select(i => $"this->r{i}").Prepend("this->pc"));
        var head = $"C %d %d %d %d %d %d %d {string.Join(' ', Enumerable.Repeat("%x", Frames + 2))}";
        const string Fields = "self->trace, self->site, this->call, this->fd, this->gen, this->bytes, timestamp - self->ts";
        // The print clauses end the call: the first that prints resets the thread, so no other prints. A call without
        // context has no stack past the first frame beyond libc (r1) and no path: its line is short (S), which dtrace
        // formats and the process reads in a fraction of the time.
        const string Reset = "self->trace = 0; self->site = 0; self->context = 0; self->owned = 0; self->ts = 0; self->arg0 = 0; self->gen0 = 0; self->path = 0; self->a0 = 0; self->a1 = 0; self->a2 = 0; self->shared = 0;";
        Line(d, $"{Exit} /this->mine && self->trace && !self->context/ {{ printf(\"S %d %d %d %d %d %d %d {string.Join(' ', Enumerable.Repeat("%x", ShortFrames))}\\n\", {Fields}, this->pc, this->r0, this->r1); {Reset} }}");
        Line(d, $"{Exit} /this->mine && self->trace && !{Has(Bits.Path)}/ {{ printf(\"{head}\\n\", {Fields}, {frames}); {Reset} }}");
        Line(d, $"{Exit} /this->mine && self->trace && {Has(Bits.Path)}/ {{ printf(\"P{head[1..]} %s\\n\", {Fields}, {frames}, self->path); {Reset} }}");

        // The process's end, killed or not (a write to its closed pipe would not end dtrace: it inherits the runtime's
        // ignored SIGPIPE).
        Line(d, $"proc:::exit /pid == {pid}/ {{ exit(0); }}");

        // A line each second: stopped traces that waited too long for their flush are cut short on it.
        Line(d, "tick-1s { printf(\"T\\n\"); }");
        return d.ToString();
    }

    /// <summary>What a counted system call's number has in the script's <c>sc</c> array: the clauses that apply to it.</summary>
    internal static Bits BitsOf(LinuxSyscall call)
    {
        var kind = ProbeCatalog.Kind(ProbeCatalog.IndexOf(call.Probe));
        var bits = Bits.Counted;
        bits |= call.Fd == SyscallFd.Arg0 && call.Name != "close" ? Bits.OnFdNotClose : 0;
        bits |= IsSharedConnectionCall(call) ? Bits.SharedConnection : 0;
        bits |= call.Path switch { SyscallPath.Arg0 => Bits.PathArg0 | Bits.Path, SyscallPath.Arg1 => Bits.PathArg1 | Bits.Path, _ => 0 };
        bits |= call.IsSocketOnly ? 0 : Bits.RuntimeCheck;
        bits |= call.Fd == SyscallFd.Arg0 && kind != ProbeKind.Setup ? Bits.MovesOnFd : 0;
        bits |= ProbeCatalog.Has(ProbeCatalog.IndexOf(call.Probe), ProbeTraits.MovesBytes) ? Bits.MovesBytes : 0;
        bits |= (call.Fd, call.Path) switch
        {
            (SyscallFd.Result, _) => Bits.FdResult,
            (SyscallFd.Arg0, _) => Bits.FdArg0,
            (_, SyscallPath.Arg1) => Bits.FdIfEmptyPath,
            _ when call.Probe == "poll" => Bits.FdPoll,
            _ => 0,
        };
        return bits;
    }

    private static int Number(string name) => LinuxSyscalls.X64.Single(c => c.Name == name).Number;

    /// <summary>The calls counted for a shared connection outside traces: its socket's reads and writes, as the eBPF backend's.</summary>
    internal static bool IsSharedConnectionCall(LinuxSyscall call) =>
        call.Fd == SyscallFd.Arg0 && ProbeCatalog.Kind(ProbeCatalog.IndexOf(call.Probe)) is ProbeKind.Read or ProbeKind.Write;

    private static void Line(StringBuilder d, string text) => d.Append(text).Append('\n');

    /// <summary>this->v: the packed rule <paramref name="table"/> holds for the address <paramref name="key"/>, else 0 (two copyins, <see cref="LibcRuleTable.TryFind"/>).</summary>
    /// <remarks>With a <paramref name="guard"/>, nothing is read where it is false, and this->v is 0.</remarks>
    private static void Lookup(StringBuilder d, LibcRuleTable table, string key, string? guard = null)
    {
        var group = $"(uint64_t *)copyin(0x{table.Displacements:x} + (({key} * 0x{LibcRuleTable.GroupMultiplier:x}) >> {64 - LibcRuleTable.GroupBits}) * 8, 8)";
        var place = $"(uint64_t *)copyin(0x{table.Address:x} + ((({key} + this->e[0]) * 0x{LibcRuleTable.PlaceMultiplier:x}) >> {64 - LibcRuleTable.Bits}) * 16, 16)";
        Line(d, guard is null ? $"  this->e = {group};" : $"  this->e = {guard} ? {group} : this->e;");
        Line(d, guard is null ? $"  this->e = {place};" : $"  this->e = {guard} ? {place} : this->e;");
        Line(d, guard is null ? $"  this->v = this->e[0] == {key} ? this->e[1] : 0;" : $"  this->v = {guard} && this->e[0] == {key} ? this->e[1] : 0;");
    }

    /// <summary>The clauses that apply to a counted system call, by its bit in the script's <c>sc</c> array.</summary>
    [Flags]
    internal enum Bits
    {
        /// <summary>Every counted call: its entry reads the thread's trace.</summary>
        Counted = 1,

        /// <summary>Its fd is its first argument and it is not close: it may be a call an owning trace waits for.</summary>
        OnFdNotClose = 1 << 1,

        /// <summary>A read or write on an fd: counted for a shared connection's socket.</summary>
        SharedConnection = 1 << 2,

        /// <summary>Its path is its first argument.</summary>
        PathArg0 = 1 << 3,

        /// <summary>Its path is its second argument.</summary>
        PathArg1 = 1 << 4,

        /// <summary>It has a path: its line carries it.</summary>
        Path = 1 << 5,

        /// <summary>Not a socket's call: without context, its caller is checked for the runtime's code.</summary>
        RuntimeCheck = 1 << 6,

        /// <summary>A read, write or other non-setup call on its fd argument: its EAGAIN makes the trace the fd's owner.</summary>
        MovesOnFd = 1 << 7,

        /// <summary>Its result is the bytes it moved.</summary>
        MovesBytes = 1 << 8,

        /// <summary>Its fd is its result (an opener's).</summary>
        FdResult = 1 << 9,

        /// <summary>Its fd is its first argument.</summary>
        FdArg0 = 1 << 10,

        /// <summary>Its first argument is its fd when its path is empty (<c>AT_EMPTY_PATH</c>).</summary>
        FdIfEmptyPath = 1 << 11,

        /// <summary>poll: its fd is in the one pollfd it waits for, if one.</summary>
        FdPoll = 1 << 12,
    }
}
