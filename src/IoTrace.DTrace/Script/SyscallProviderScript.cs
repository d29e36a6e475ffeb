using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using IoTrace.Platform.Linux;
using IoTrace.Symbols;

namespace IoTrace.DTrace.Script;

/// <summary>
/// The D script for a platform's <c>syscall</c> provider (macOS, FreeBSD, illumos; Linux too, for its tests): an
/// entry and a return probe for each call of the platform's catalog that a strategy records, and every close. The
/// calls of a traced thread are aggregated in dtrace, keyed by trace and system call (Summary), and by fd, its
/// generation, path and the user stack (<c>ustack()</c>) where the trace keeps context; at a flush the process asks for
/// (<see cref="RequestFlush"/>) they are printed with a fixed format and truncated (<see cref="Consumer.AggregateOutputParser"/>
/// reads them), a flush late: the aggregations come in three sets that take turns.
/// </summary>
/// <remarks>
/// <para>The thread's trace is read from the process's trace slot table with copyin, at the slot the platform gives
/// its thread id (<see cref="DTracePlatform.SlotIndex"/>); without a table every thread of the process is a trace of
/// its own, keyed by its id, with context: a recording of what the platform's probes deliver.</para>
/// <para>Flushes on request, not on a timer, each in three steps: the set counting stops and the next starts, and the
/// set that stopped at the flush before is printed and truncated. DTrace for Linux truncates an aggregation after its
/// consumer's snapshot, so a set truncated while it counted would lose the calls counted in between (measured with one
/// set: 2 % of a trace's calls with context with a flush every 100 ms; bench/IoTrace.Benchmarks DTraceSyscallProvider).
/// A call that returned before flush <c>n</c> is printed by flush <c>n + 1</c>, which must be asked for only once
/// flush <c>n</c>'s <c>F</c> line is read: its set is then printed from a snapshot taken after it stopped (dtrace
/// snapshots as a round of its consumer starts, with <c>aggrate=0</c>, and writes out as the round ends), and
/// truncated before it counts again.</para>
/// <para>Under load on DTrace for Linux the consumer falls behind: its snapshot reads every key of the kernel's maps
/// into a hash of its own at every round, and keyed by trace, the keys of a busy server's requests pile up faster than
/// the rounds print and truncate them (measured with the Linux backend's script aggregating Summary's calls this way:
/// dtrace stalled within seconds at 1,200 requests a second, most of its time in <c>dtrace_aggregate_snap</c>). The
/// Linux backend prints a line per call.</para>
/// <para>Unlike the Linux backend's script (<see cref="DTraceScript"/>), it does not tell the runtime's own IO apart, and
/// counts no shared connection's calls: those rely on the Linux script's own stack walk and control calls.</para>
/// <para>dtrace reports a key it had no room for as "aggregation drops" on stderr: its calls are missing from every
/// flush, so the reports of the traces running then are short and must say so. The keys of one flush, for all traces
/// with context, share dtrace's aggregation size (4 MB by default; about 4,500 keys per CPU on DTrace for Linux).</para>
/// <para>To print ustack() DTrace for Linux may ptrace the traced process and plant a breakpoint in its dynamic linker
/// (not in a process it counts as a system daemon, nor in one something else already ptraces: strace, in the tests).
/// The runtime then aborts at the process's next dlopen or dlclose, while dtrace runs and after it exited on SIGTERM
/// alike (seen in a process started from a terminal). Never stop it with SIGKILL.</para>
/// </remarks>
internal static partial class SyscallProviderScript
{
    /// <summary>The frames of <c>ustack()</c> a call keeps: the app's frame of Npgsql's calls is up to about 40 deep.</summary>
    public const int Frames = 40;

    /// <summary>The fds the script keeps a generation and an owner for: 0 to this, less one.</summary>
    public const int FdLimit = 65536;

    /// <summary>The element of the per-fd arrays past the fds: what a clause stores when it has nothing to store.</summary>
    private const int Sink = FdLimit;

    /// <summary>The sets of aggregations that take turns: one counting, one waiting for a snapshot, one printed.</summary>
    private const int AggregateSets = 3;

    /// <summary>The fd of the close that asks for a flush: negative ("IOTR" in hex), so the close fails and changes nothing.</summary>
    public const int FlushMarker = -0x494f5452;

    /// <summary>
    /// Asks the script for a flush: it prints and empties the set of aggregations that stopped at the flush before, then
    /// an <c>F</c> line. Every call that returned before this one is in the next flush or an earlier one; ask for the
    /// next once this one's <c>F</c> is read. Made outside traces: a traced thread's close counts.
    /// </summary>
    public static void RequestFlush() => _ = Close(FlushMarker);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <param name="platform">Whose system calls, errno values and slot layout.</param>
    /// <param name="pid">The process traced.</param>
    /// <param name="slotTable">Where its trace slot table is; 0: every thread is a trace of its own.</param>
    /// <param name="strategy">The calls enabled: those it records, and every close.</param>
    public static string Generate(DTracePlatform platform, int pid, nint slotTable, Strategy strategy)
    {
        var calls = platform.CallsFor(strategy).ToList();
        var d = new StringBuilder();
        string Entry(Func<PlatformSyscall, bool> which) => Probes(calls.Where(which), "entry");
        string Return(Func<PlatformSyscall, bool> which) => Probes(calls.Where(which), "return");
        var all = Entry(static _ => true);
        var allReturns = Return(static _ => true);
        var fdInRange = $"(int64_t)arg0 >= 0 && (int64_t)arg0 < {FdLimit}";

        Line(d, "#pragma D option quiet");
        Line(d, "#pragma D option switchrate=100hz");
        // A snapshot of the aggregations at every round of the consumer: a set is printed from the snapshot of the round
        // that reads its flush, which must be taken after the set stopped counting.
        Line(d, "#pragma D option aggrate=0");
        Line(d, "#pragma D option strsize=256");
        Line(d, $"#pragma D option ustackframes={Frames}");
        Line(d, "#pragma D option dynvarsize=16m");
        if (slotTable == 0)
        {
            // Every thread of the process keys rows of its own, stack and all. dtrace's default 4 MB holds about 4,500
            // keys per CPU on DTrace for Linux, which a busy process fills in seconds: one thread's 6,000 opens and
            // reads kept 1,604 of 12,020 rows, the rest were dropped ("aggregation drops" on stderr).
            Line(d, "#pragma D option aggsize=32m");
        }

        // Per fd, indexed by its number: its generation (closes so far), and the trace waiting for it, if one.
        foreach (var array in (string[])["gen", "owner", "ownergen", "ownercontext"])
        {
            Line(d, $"int64_t {array}[{FdLimit + 1}];");
        }

        // A scalar after them: DTrace for Linux bounds an index into the last global array by the end of the globals
        // less one byte, which its verifier refuses for an 8-byte element.
        Line(d, "int64_t pad;");
        Line(d, "int64_t set;");

        Line(d, "BEGIN { printf(\"R\\n\"); }");

        // The thread's trace, and whether it keeps each call's fd, path and stack.
        if (slotTable == 0)
        {
            Line(d, $"{all} /pid == {pid}/ {{ self->trace = tid; self->context = 1; }}");
        }
        else
        {
            var slot = $"this->slot = (uint64_t *)copyin(0x{slotTable:x} + {platform.SlotIndex} * 16, 16);";
            var trace = platform.SlotHoldsTid ? "(this->slot[1] >> 16) == tid ? this->slot[0] : 0" : "this->slot[0]";
            // The table's layout is the process side's contract on every platform; the constant compiles into the text.
#pragma warning disable CA1416
            const ulong ContextBit = TraceSlotTable.ContextBit;
#pragma warning restore CA1416
            Line(d, $"{all} /pid == {pid}/ {{ {slot} self->trace = {trace}; self->context = self->trace ? this->slot[1] & {ContextBit} : 0; }}");
        }

        // A call on an fd a trace waits for, from a thread of no trace (the runtime's socket thread retrying a read that
        // would have blocked, reading a connect's result): the trace's.
        if (Entry(static c => c.Fd == SyscallFd.Arg0 && !c.ClosesFd) is { Length: > 0 } onFd)
        {
            Line(d, $"{onFd} /pid == {pid} && !self->trace && {fdInRange} && owner[arg0] && ownergen[arg0] == gen[arg0]/ {{ self->trace = owner[arg0]; self->context = ownercontext[arg0]; self->owned = 1; }}");
        }

        var start = platform.HasVtimestamp ? " self->vts = vtimestamp;" : string.Empty;
        Line(d, $"{all} /self->trace/ {{ self->ts = timestamp;{start} self->fd = -1; self->gen = (int64_t)0; self->path = \"\"; }}");
        if (Entry(static c => c.Fd == SyscallFd.Arg0) is { Length: > 0 } fdArgument)
        {
            Line(d, $"{fdArgument} /self->trace && {fdInRange}/ {{ self->fd = (int)arg0; self->gen = gen[arg0]; }}");
        }

        foreach (var (path, argument) in (ReadOnlySpan<(SyscallPath, string)>)[(SyscallPath.Arg0, "arg0"), (SyscallPath.Arg1, "arg1")])
        {
            if (Entry(c => c.Path == path) is { Length: > 0 } byPath)
            {
                Line(d, $"{byPath} /self->context && {argument}/ {{ self->path = copyinstr({argument}); }}");
            }
        }

        // A call of the *at family on an fd with an empty path (fstatat(fd, "", AT_EMPTY_PATH), utimensat(fd, NULL)) is a
        // call on the fd, as strace names it.
        if (Entry(static c => c.Path == SyscallPath.Arg1 && c.Fd == SyscallFd.None) is { Length: > 0 } atCalls)
        {
            Line(d, $"{atCalls} /self->context && self->path == \"\" && {fdInRange}/ {{ self->fd = (int)arg0; self->gen = gen[arg0]; }}");
        }

        // A socket's peer, as the first 24 bytes of its address: the socket may be closed before the flush.
        if (Entry(static c => c.NamesPeer) is { Length: > 0 } connects)
        {
            Line(d, $"{connects} /self->context/ {{ this->a = (uint64_t *)copyin(arg1, 24); self->a0 = this->a[0]; self->a1 = this->a[1]; self->a2 = this->a[2]; }}");
        }

        // Each number's generation: its closes in the whole process, counted as the close starts (another thread may
        // open the number again before this one returns).
        var closes = Entry(static c => c.ClosesFd);
        Line(d, $"{closes} /pid == {pid} && {fdInRange}/ {{ gen[arg0] = gen[arg0] + 1; owner[arg0] = 0; }}");

        // Return: the bytes moved, and an opener's fd.
        // The set counting now, read once: a flush on another CPU between two reads would count the call twice, or not at all.
        Line(d, $"{allReturns} /self->trace/ {{ this->bytes = (int64_t)0; this->fd = self->fd; this->gen = self->gen; this->set = set; }}");
        if (Return(static c => c.MovesBytes) is { Length: > 0 } moves)
        {
            Line(d, $"{moves} /self->trace && (int64_t)arg0 > 0/ {{ this->bytes = (int64_t)arg0; }}");
        }

        if (Return(static c => c.Fd == SyscallFd.Result) is { Length: > 0 } opens)
        {
            Line(d, $"{opens} /self->trace && {fdInRange}/ {{ this->fd = (int)arg0; this->gen = gen[arg0]; }}");
        }

        // Ownership: a read or write that would block, or a connect under way, makes its trace the fd's owner (take); the
        // retry its owner waited for ends the wait once it does not fail with EAGAIN (release).
        if (Return(static c => c.MayBlockOnFd || c.NamesPeer) is { Length: > 0 } blocking)
        {
            var connecting = string.Join(" || ", calls.Where(static c => c.NamesPeer).Select(static c => $"probefunc == \"{c.ProviderName}\"").DefaultIfEmpty("0"));
            Line(d, $"{blocking} /self->trace && self->fd >= 0 && self->fd < {FdLimit}/ {{");
            Line(d, $"  this->take = (errno == {platform.Eagain} && !self->owned) || (errno == {platform.Einprogress} && ({connecting}));");
            Line(d, $"  this->release = self->owned && errno != {platform.Eagain};");
            Line(d, $"  this->i = this->take || this->release ? self->fd : {Sink}; owner[this->i] = this->take ? self->trace : 0;");
            Line(d, $"  this->i = this->take ? self->fd : {Sink}; ownergen[this->i] = self->gen; ownercontext[this->i] = self->context;");
            Line(d, "}");
        }

        if (Return(static c => c.NamesPeer) is { Length: > 0 } connected)
        {
            Line(d, $"{connected} /self->context && self->fd >= 0/ {{ printf(\"N %d %d %d %x %x %x\\n\", self->trace, self->fd, self->gen, self->a0, self->a1, self->a2); }}");
        }

        // The aggregations: a trace without context (Summary) by call only; with context by fd, path and stack too.
        var cpu = platform.HasVtimestamp ? "sum(vtimestamp - self->vts)" : null;
        for (var set = 0; set < AggregateSets; set++)
        {
            Aggregate(d, allReturns, $"/self->trace && !self->context && this->set == {set}/", "self->trace, probefunc", string.Empty, SetSuffix(set), cpu);
            Aggregate(d, allReturns, $"/self->trace && self->context && this->set == {set}/", $"self->trace, probefunc, this->fd, this->gen, self->path, ustack({Frames})", "c", SetSuffix(set), cpu);
        }

        Line(d, $"{allReturns} /self->trace/ {{ self->trace = 0; self->context = 0; self->owned = 0; self->ts = 0;{(platform.HasVtimestamp ? " self->vts = 0;" : string.Empty)} self->fd = 0; self->gen = 0; self->path = 0; self->a0 = 0; self->a1 = 0; self->a2 = 0; }}");

        // The flush, when the process asks for one (RequestFlush: a close of an fd that cannot be, made after the calls
        // it must cover): the set counting stops and the next starts; the set that stopped at the flush before is
        // printed, then emptied; F ends it. Without vtimestamp, CPU is "-".
        var values = platform.HasVtimestamp ? "%@d %@d %@d %@d" : "%@d %@d %@d -";
        var flush = $"{closes} /pid == {pid} && (int)arg0 == {FlushMarker}";
        Line(d, $"{flush}/ {{ this->stopped = set; set = set == {AggregateSets - 1} ? 0 : set + 1; }}");
        for (var stopped = 0; stopped < AggregateSets; stopped++)
        {
            var printed = (stopped + AggregateSets - 1) % AggregateSets;
            Line(d, $"{flush} && this->stopped == {stopped}/ {{");
            Line(d, $"  printa(\"S %d %s {values}\\n\", {Aggregations(string.Empty, SetSuffix(printed), platform)});");
            Line(d, $"  printa(\"C %d %s %d %d {values} %s%k\\n\", {Aggregations("c", SetSuffix(printed), platform)});");
            foreach (var name in (string[])["", "c"])
            {
                Line(d, $"  {string.Join(" ", Aggregations(name, SetSuffix(printed), platform).Split(", ").Select(static a => $"trunc({a});"))}");
            }

            Line(d, "}");
        }

        Line(d, $"{flush}/ {{ printf(\"F\\n\"); }}");

        // The process's end, killed or not.
        Line(d, $"proc:::exit /pid == {pid}/ {{ exit(0); }}");
        return d.ToString();
    }

    private static void Aggregate(StringBuilder d, string probes, string predicate, string keys, string prefix, string suffix, string? cpu)
    {
        Line(d, $"{probes} {predicate} {{");
        Line(d, $"  @{prefix}calls{suffix}[{keys}] = count(); @{prefix}bytes{suffix}[{keys}] = sum(this->bytes); @{prefix}wall{suffix}[{keys}] = sum(timestamp - self->ts);");
        if (cpu is not null)
        {
            Line(d, $"  @{prefix}cpu{suffix}[{keys}] = {cpu};");
        }

        Line(d, "}");
    }

    private static readonly string[] s_values = ["calls", "bytes", "wall", "cpu"];

    /// <summary>What a set's aggregations' names end with: <c>@calls1</c>, <c>@ccalls2</c>, ...; set 0's with nothing.</summary>
    private static string SetSuffix(int set) => set == 0 ? string.Empty : set.ToString(CultureInfo.InvariantCulture);

    private static string Aggregations(string prefix, string suffix, DTracePlatform platform) =>
        string.Join(", ", s_values.Where(a => a != "cpu" || platform.HasVtimestamp).Select(a => $"@{prefix}{a}{suffix}"));

    private static string Probes(IEnumerable<PlatformSyscall> calls, string point) =>
        string.Join(", ", calls.Select(c => c.ProviderName).Distinct(StringComparer.Ordinal).Select(name => string.Create(CultureInfo.InvariantCulture, $"syscall::{name}:{point}")));

    private static void Line(StringBuilder d, string text) => d.Append(text).Append('\n');
}
