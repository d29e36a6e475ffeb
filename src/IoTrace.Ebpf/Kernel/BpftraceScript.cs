using System.Globalization;
using System.Text;

namespace IoTrace.Ebpf.Kernel;

/// <summary>
/// The bpftrace program. It counts the traced process's IO calls in kernel maps keyed by the trace a thread
/// belongs to (read from the slot table in the process's memory), with the user stack and fd where the trace keeps
/// context, and rotates its buffers when the process asks (a marker call) or every 100 ms; the process reads the
/// retired buffer's maps (<see cref="BpftraceMaps"/>), or bpftrace prints them.
/// Positional parameters: $1 the process id, $2 the slot table's address, $3 the tid of the thread that reads bpftrace's output.
/// </summary>
internal static class BpftraceScript
{
    /// <summary>prctl option no kernel knows: the process makes this call to ask for a flush (EINVAL, no effect).</summary>
    public const long FlushMarker = 0x494F5452; // "IOTR"

    /// <summary>prctl option no kernel knows: the process acknowledges flush N (second argument) once it has read it.</summary>
    public const long AckMarker = 0x494F5441; // "IOTA"

    /// <summary>prctl option no kernel knows: stacks that begin with these frames (hash, second argument) have their app frame among them, for the rules id in the third.</summary>
    public const long ShortcutMarker = 0x494F5453; // "IOTS"

    /// <summary>prctl option no kernel knows: forget a shortcut (the runtime unloaded code). Both name the output reader's tid (fourth argument).</summary>
    public const long UnshortcutMarker = 0x494F5455; // "IOTU"

    /// <summary>Return addresses kept per call: deep enough to pass the framework and reach the app's frame.</summary>
    public const int StackDepth = 20;

    /// <summary>
    /// Frames after which the walk asks whether the process already knows that stacks beginning this way have their
    /// app frame here (<see cref="ShortcutMarker"/>); if so it stops. The app's frame of FileStream, File.*Async and
    /// socket calls is 4 to 11 deep; each frame not walked saves two user reads.
    /// </summary>
    public static readonly int[] Checkpoints = [6, 12];

    /// <summary>FNV-1a over 64-bit words, as the program hashes a stack's frames: the offset basis and the prime.</summary>
    public const ulong HashBasis = 14695981039346656037;
    public const ulong HashPrime = 1099511628211;

    /// <summary>
    /// Stack words searched for a frame pointer when rbp is not one, at a syscall ip outside the libc unwind table
    /// (ld.so's own calls, code outside libc): the search can pick a stale frame, the table cannot.
    /// </summary>
    public const int ScanWords = 16;

    /// <summary>Native frames without frame pointers the walk steps through by learned rules, at most (SQLite's IO is about 10 deep).</summary>
    public const int NativeSteps = 24;

    /// <summary>Ends a stack whose last frame has no unwind rule yet: the process learns one for it.</summary>
    public const ulong UnknownFrameMarker = 1;

    /// <summary>
    /// Set on the first frame past native frames stepped by rule. The walk cannot tell whether it stopped there because
    /// it reached managed code, or a native frame it has no rule for yet (whose rbp may still look like a frame
    /// pointer, into a stale frame): the process can, and trusts the frames after it only in the first case.
    /// </summary>
    public const ulong PastNativeFlag = 1UL << 62;

    /// <summary>
    /// Set on a return address the walk read through a frameless function's frame (a rule in @lm, taught with
    /// <see cref="FramelessMarker"/>): the caller a frame-pointer walk would have skipped.
    /// </summary>
    public const ulong FramelessCallerFlag = 1UL << 61;

    /// <summary>prctl option no kernel knows: a frameless function's return address and its CFA offset from rsp (fourth argument: the output reader's tid).</summary>
    public const long FramelessMarker = 0x494F5446; // "IOTF"

    /// <summary>The slot word's bits (from 40) that say which hashes of return addresses may have a frameless rule: the walk looks up @lm only then.</summary>
    public const int FramelessBloomShift = 40;

    /// <summary>A return address's bit in the frameless bloom: the top 4 bits of a multiplicative hash (16 bits).</summary>
    public static int FramelessBloomBit(ulong returnAddress) => (int)((returnAddress * FramelessHashMultiplier) >> 60);

    /// <summary>The first frame the walk may read through a frameless function (the ones before step out of libc).</summary>
    public const int FirstFramelessFrame = 3;

    private const ulong FramelessHashMultiplier = 0x9E3779B97F4A7C15;

    /// <summary>
    /// Kept native paths: stepping out of e_sqlite3's ~10 frames by rule costs a map lookup and a user read per frame,
    /// on every call. The same path from one wrapper call ends at the same offsets from the wrapper's CFA, so the walk
    /// keeps, per wrapper return address (@nc): the offset of the first return address past the native frames and that
    /// address; the offset of the slot of the rbp the chain goes on from; the offset of the return address into the
    /// frame that saved it and that address; the rules' generation. The next walk from that call reads the two return
    /// addresses where they were and takes the path without stepping if both are the ones found then: the frame past
    /// the native frames is then that one, and the rbp is read from the slot its saver keeps it in. Otherwise (another
    /// caller of the same call) it steps, and keeps that path instead. Every rule taught bumps the generation (@lg),
    /// which retires every kept path: a walk that stopped at a frame without a rule goes further once it has one.
    /// </summary>
    public const string KeptNativePath = "nc";

    /// <summary>Added to a kept native path's saved-rbp offset from the wrapper's CFA (the wrapper's own is below it), so 0 can mean none.</summary>
    private const ulong NativePathSavedRbpBias = 1UL << 20;

    /// <summary>prctl option no kernel knows: how to step out of native code at return address (second argument): the packed rule in the third.</summary>
    public const long UnwindMarker = 0x494F5457; // "IOTW"

    /// <summary>
    /// The unwind rules of native frames live in two maps (@ur0, @ur1), each as large as any map of the program, chosen
    /// by this bit of the return address: one map could not hold e_sqlite3's rules and another library's beside them.
    /// </summary>
    public const ulong RuleMapBit = 8;

    /// <summary>How many maps hold unwind rules (see <see cref="RuleMapBit"/>).</summary>
    public const int RuleMaps = 2;

    /// <summary>The rule map (0 or 1) that holds the rule of <paramref name="returnAddress"/>.</summary>
    public static int RuleMapOf(ulong returnAddress) => (returnAddress & RuleMapBit) != 0 ? 1 : 0;

    /// <summary>Bytes from a task's kernel stack base to the user registers saved at its top (x86_64: THREAD_SIZE 16 KiB, no padding).</summary>
    public const int UserRegistersOffset = 16384 - 168;

    public const string ReadyLine = "R";
    /// <summary>"F seq covered buffer": flush number, the time up to which every returned call is in this flush or an earlier one, and the buffer flushed.</summary>
    public const string FlushBeginPrefix = "F ";
    public const string FlushEndLine = "E";

    /// <param name="libc">The unwind table of the process's libc syscall sites; none: every stack takes the frame-pointer search.</param>
    /// <param name="flushTickMilliseconds">How often the program checks whether to rotate.</param>
    /// <param name="idleFlushMilliseconds">Time between rotations when no trace asks for one.</param>
    /// <param name="spacingMilliseconds">
    /// Time at least between two rotations: how long a retired buffer waits before it is printed. System call
    /// tracepoints are preemptible on recent kernels, so on a saturated CPU a probe can stall for milliseconds
    /// between choosing its buffer and writing it.
    /// </param>
    /// <param name="printMaps">
    /// Whether bpftrace prints and clears a retired buffer's maps itself; if not, the flush only names the buffer and the
    /// process reads and empties its maps (<see cref="BpftraceMaps"/>) before it acknowledges the flush.
    /// </param>
    public static string Build(LibcUnwindTable? libc = null, int flushTickMilliseconds = 5, int idleFlushMilliseconds = 100, int spacingMilliseconds = 20, bool printMaps = false)
    {
        var table = new StringBuilder();
        foreach (var (number, packed) in SyscallTable.X64)
        {
            table.Append(CultureInfo.InvariantCulture, $"  @p[{number}] = {packed};\n");
        }

        // Declares @lu's (and @z's) types even when the table is empty. The ~160 sites of the counted calls add 0.4 s to
        // bpftrace's compile at attach (all 510 of glibc 2.36 would add 1.4 s); BEGIN grows from ~550 to ~2200
        // verified instructions.
        table.Append("  @lu[(uint64)0] = (int64)0;\n  delete(@lu[(uint64)0]);\n  @z[(uint64)0, (uint64)0] = 1;\n  delete(@z[(uint64)0, (uint64)0]);\n");
        table.Append("  @ur0[(uint64)0] = (int64)0;\n  delete(@ur0[(uint64)0]);\n  @ur1[(uint64)0] = (int64)0;\n  delete(@ur1[(uint64)0]);\n");
        foreach (var site in libc?.Sites ?? [])
        {
            table.Append(CultureInfo.InvariantCulture, $"  @lu[(uint64){site.Ip}] = (int64){site.Packed};\n");
        }

        // The generated blocks first: they hold placeholders of their own.
        return Template
            .Replace("%PATHID%", PathId(), StringComparison.Ordinal)
            .Replace("%BUFFER0%", Buffer(0), StringComparison.Ordinal)
            .Replace("%BUFFER1%", Buffer(1), StringComparison.Ordinal)
            .Replace("%BUFFER2%", Buffer(2), StringComparison.Ordinal)
            .Replace("%FLUSH0%", printMaps ? Flush(0) : string.Empty, StringComparison.Ordinal)
            .Replace("%FLUSH1%", printMaps ? Flush(1) : string.Empty, StringComparison.Ordinal)
            .Replace("%FLUSH2%", printMaps ? Flush(2) : string.Empty, StringComparison.Ordinal)
            .Replace("%CLEARALL%", Clear(0) + Clear(1) + Clear(2), StringComparison.Ordinal)
            .Replace("%WALK%", Walk(), StringComparison.Ordinal)
            .Replace("%FRAMES%", string.Join(", ", Enumerable.Range(0, StackDepth + 1).Select(i => $"$f{i}")), StringComparison.Ordinal)
            .Replace("%TABLE%", table.ToString(), StringComparison.Ordinal)
            .Replace("%KIND%", SyscallTable.KindShift.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%FD%", SyscallTable.FdShift.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%OPENER%", SyscallTable.Opener.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%BYTES%", SyscallTable.CountsBytes.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%CLOSES%", SyscallTable.Closes.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%PATHTARGET%", SyscallTable.PathTarget.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%SETUP%", SyscallTable.Setup.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%PATH1%", SyscallTable.PathArg1.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%PATH0%", SyscallTable.PathArg0.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%CONTEXT%", SyscallTable.Context.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%CPU%", SyscallTable.Cpu.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%NEWFSTATAT%", SyscallTable.NewFstatAt.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%FDSTATAT%", SyscallTable.FdStatAtPacked.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%STATX%", SyscallTable.StatX.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%CONNECT%", SyscallTable.Connect.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%PRCTL%", SyscallTable.Prctl.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%POLL%", SyscallTable.Poll.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%PPOLL%", SyscallTable.PPoll.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%FDPOLL%", SyscallTable.FdPollPacked.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%MARKER%", FlushMarker.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%ACK%", AckMarker.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%SHORTCUT%", ShortcutMarker.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%UNWIND%", UnwindMarker.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%RULEMAPBIT%", RuleMapBit.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%FRAMELESS%", FramelessMarker.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%UNSHORTCUT%", UnshortcutMarker.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%RULES%", SyscallTable.RulesShift.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%REGS%", UserRegistersOffset.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%TICK%", flushTickMilliseconds.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%IDLE%", (idleFlushMilliseconds * 1_000_000L).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("%SPACING%", (spacingMilliseconds * 1_000_000L).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    /// <summary>
    /// The aggregate maps of one buffer, summary (no context) and context: calls and wall time together (bpftrace's
    /// <c>stats</c>: a count and a total in one entry), bytes, CPU time. Then fd targets, peers, stacks, the event count.
    /// </summary>
    public static readonly string[] SummaryMaps = ["sw", "sb", "su"];
    public static readonly string[] ContextMaps = ["w", "b", "u"];
    public const string TargetMap = "t";
    public const string StackMap = "k";

    /// <summary>Stacks already in a buffer's <see cref="StackMap"/>: a small flag to look up instead of rewriting the frames every call. Not printed.</summary>
    public const string StackSeenMap = "kq";
    public const string PeerMap = "s";

    /// <summary>An opened fd (trace, fd, generation) to the id of its path in <see cref="TargetMap"/> (under -1 - id): see <c>PathId</c>.</summary>
    public const string OpenedPathMap = "o";

    /// <summary>A trace's stat path to the id that stands for it in the aggregates' fd field (per buffer, emptied with it; not printed).</summary>
    public const string PathIdMap = "pi";

    /// <summary>Whether a trace with context wrote into a buffer since its last flush (not printed).</summary>
    public const string ContextUsedMap = "x";
    public const string EventsMap = "n";

    // Three buffers in rotation. A flush makes the next buffer current, and flushes the one that stopped being current
    // at the flush before (the process reads and empties it, or bpftrace prints and clears it): a probe that read @flip
    // just before a rotation (and was preempted) has had a whole tick to finish writing. A buffer becomes current again
    // only after the process acknowledged the flush that emptied it, so nothing left over can wipe new counts.
    // The event count first: a probe preempted after choosing its buffer and resumed only after that buffer was read
    // has then (almost always) counted itself, so the flush shows more events than calls and the loss is reported.
    // Every entry costs reading time, so none is kept that would only say 0: no bytes for calls that transfer none
    // (open, stat, close...), no CPU time for traces that do not measure it; calls and wall time share one entry.
    private static string Buffer(int n) => $$"""
          @n{{n}} = count();
          if ($po != 0) { @o{{n}}[$req, $fd, $g] = $po; @x{{n}} = 1; }
          if (($fl & %CONTEXT%) != 0) {
            if (@kq{{n}}[$h] == 0) {
              @k{{n}}[$h] = (%FRAMES%);
              @kq{{n}}[$h] = 1;
              @x{{n}} = 1;
            }
            @w{{n}}[$req, $p, $fd, $g, $h] = stats($wall);
            if (($m & %BYTES%) != 0) { @b{{n}}[$req, $p, $fd, $g, $h] = sum($bytes); }
            if (($fl & %CPU%) != 0) { @u{{n}}[$req, $p, $fd, $g, $h] = sum($cpu); }
          } else {
            @sw{{n}}[$req, $p] = stats($wall);
            if (($m & %BYTES%) != 0) { @sb{{n}}[$req, $p] = sum($bytes); }
            if (($fl & %CPU%) != 0) { @su{{n}}[$req, $p] = sum($cpu); }
          }
    """;

    /// <summary>
    /// The user stack, walked by hand rather than with ustack: bpftrace's stack map returns no stack when two stacks
    /// hash alike, and the kernel's walk starts from rbp, which some glibc wrappers (open, recv, send, fstatat) use as a
    /// general register. At a libc syscall site in @lu (<see cref="LibcUnwindTable"/>) the wrapper's frame is known
    /// from its CFI: $f1 is its return address, and the caller's rbp is where the wrapper saved it, or still in rbp
    /// (if that is no frame pointer either, the caller keeps none, as e_sqlite3: see <see cref="Native"/>). At other
    /// ips, when rbp is not a frame pointer, the words at the stack pointer are searched for one: a heuristic that can
    /// pick a stale frame. A frame pointer is valid when it points into the stack and to the next, higher one.
    /// At each checkpoint the walk stops if the process marked the frames so far for the trace's rules: it found the
    /// app frame among them before (<see cref="Attribution.StackShortcuts"/>).
    /// $f0 is the instruction pointer, the rest return addresses, zeros past the end; $h is the stack's hash.
    /// </summary>
    private static string Walk()
    {
        var walk = new StringBuilder();
        walk.Append("""
                $r = (struct pt_regs *)((uint64)curtask->stack + %REGS%);
                $f0 = (uint64)0;
                $fp = (uint64)0;
                $u = (int64)0;
                $b = 0;

            """);
        for (var i = 1; i <= StackDepth; i++)
        {
            walk.Append(CultureInfo.InvariantCulture, $"        $f{i} = (uint64)0;\n");
        }

        walk.Append("""
                if ($r->orig_ax == ($e.7 & 0xffff)) {
                  $f0 = $r->ip;
                  $sp = $r->sp;
                  $fp = $r->bp;
                  $u = @lu[$f0];
                  if ($u != 0) {
                    $cfa = $sp + (uint64)($u & 0xffffffff);
                    $f1 = (uint64)*uptr((uint64 *)($cfa - 8));
                    if (($u >> 32) != 0) { $fp = (uint64)*uptr((uint64 *)($cfa - (uint64)($u >> 32))); }
                    $ok = 0;
                    if ($fp >= $cfa && $fp < $sp + 0x100000) {
                      $nx = (uint64)*uptr((uint64 *)$fp);
                      if ($nx > $fp && $nx < $fp + 0x100000) { $ok = 1; }
                    }
                    if ($ok == 0) {
                      $fp = 0;
                %NATIVE%
                    }
                  } else {
                    $ok = 0;
                    if ($fp >= $sp && $fp < $sp + 0x100000) {
                      $nx = (uint64)*uptr((uint64 *)$fp);
                      if ($nx > $fp && $nx < $fp + 0x100000) { $ok = 1; }
                    }
                    if ($ok == 0) {
                      $fp = 0;

            """);
        for (var i = 0; i < ScanWords; i++)
        {
            walk.Append(CultureInfo.InvariantCulture, $$"""
                          if ($fp == 0) {
                            $w = (uint64)*uptr((uint64 *)($sp + {{i * 8}}));
                            if ($w > $sp && $w < $sp + 0x100000) {
                              $nx = (uint64)*uptr((uint64 *)$w);
                              if ($nx > $w && $nx < $w + 0x100000) { $fp = $w; }
                            }
                          }

                """);
        }

        walk.Append("""
                    }
                  }
                }

            """);

        // After a CFI step $f1 is the wrapper's return address and the chain fills $f2 on; otherwise it fills $f1 on.
        // The hash runs along (FNV-1a over the frames, zeros past the end): at a checkpoint it is the key of the
        // frames so far, which the process marks in @z once it found the app frame among them for the trace's rules.
        walk.Append(CultureInfo.InvariantCulture, $"        $rid = ($fl >> %RULES%) & 0xff;\n        $pend = (uint64)0;\n        $bl = ($fl >> {FramelessBloomShift}) & 0xffff;\n        $h = (uint64){HashBasis};\n        $h = ($h ^ $f0) * {HashPrime};\n");
        for (var i = 1; i <= StackDepth; i++)
        {
            // $f1 is the wrapper's return address after a CFI step; $f2 the first frame past the native frames stepped by rule.
            walk.Append(i switch { 1 => "        if ($u == 0) {\n", 2 => "        if ($b == 0) {\n", _ => string.Empty });
            if (i < FirstFramelessFrame)
            {
                walk.Append(CultureInfo.InvariantCulture, $$"""
                        if ($fp != 0) {
                          $f{{i}} = (uint64)*uptr((uint64 *)($fp + 8));
                          $nx = (uint64)*uptr((uint64 *)$fp);
                          if ($nx <= $fp || $nx > $fp + 0x100000) { $nx = 0; }
                          $fp = $nx;
                        }

                    """);
            }
            else
            {
                // A return address into a frameless function (its bloom bit set in the slot word, then a rule in @lm):
                // the caller a frame-pointer walk skips is read from that function's frame, which begins just above
                // the callee's (rbp + 16), its return address at CFA - 8; the frame after it is the next one.
                walk.Append(CultureInfo.InvariantCulture, $$"""
                        if ($pend != 0) {
                          $f{{i}} = $pend;
                          $pend = 0;
                        } else {
                          if ($fp != 0) {
                            $f{{i}} = (uint64)*uptr((uint64 *)($fp + 8));
                            $nx = (uint64)*uptr((uint64 *)$fp);
                            if ($nx <= $fp || $nx > $fp + 0x100000) { $nx = 0; }
                            if ($bl != 0 && (($bl >> (($f{{i}} * 0x{{FramelessHashMultiplier:X}}) >> 60)) & 1) != 0) {
                              $w = (uint64)@lm[$f{{i}}];
                              if ($w != 0) { $pend = (uint64)*uptr((uint64 *)($fp + 8 + ($w & 0x7fffffff))) | {{FramelessCallerFlag}}; }
                            }
                            $fp = $nx;
                          }
                        }

                    """);
            }

            if (i is 1 or 2)
            {
                walk.Append("        }\n");
            }

            walk.Append(CultureInfo.InvariantCulture, $"        $h = ($h ^ $f{i}) * {HashPrime};\n");
            if (Checkpoints.Contains(i))
            {
                walk.Append("        if ($fp != 0 && $rid != 0) {\n          if (@z[$h, $rid] != 0) { $fp = 0; }\n        }\n");
            }
        }

        return walk.Replace("%NATIVE%", Native()).ToString();
    }

    /// <summary>
    /// Past a libc wrapper whose caller keeps no frame pointer (e_sqlite3): steps out of that caller and its callers
    /// by the rules the process learned for their return addresses (<see cref="Attribution.NativeUnwindRules"/>, in
    /// @ur0 and @ur1, see <see cref="RuleMapBit"/>), up to <see cref="NativeSteps"/> frames. Those frames are not kept: $f2 is the
    /// first return address past them, and the chain goes on from its rbp if that is a frame pointer. Where no rule is
    /// known yet, the stack ends with <see cref="UnknownFrameMarker"/> after the frame that needs one, for the process
    /// to learn it: no return address is 1. The first frame past them carries <see cref="PastNativeFlag"/>.
    /// Only the outermost saved rbp matters (each frame that saves it saves its caller's), so the walk keeps where the
    /// last one is ($ba) and reads it once, at the end or where a frame's CFA is rbp-based: each user read costs.
    /// The outcome of a walk is kept per wrapper return address (@nc, see <see cref="KeptNativePath"/>).
    /// </summary>
    private static string Native()
    {
        var native = new StringBuilder($$"""
                          $ip = $f1;
                          $sp = $cfa;
                          $bp = $r->bp;
                          $ba = (uint64)0;
                          if (($u >> 32) != 0) { $ba = $cfa - (uint64)($u >> 32); }
                          // The last saved rbp's slot, even once read: the rbp the chain goes on from was saved there. And
                          // the frame that saved it: where its return address is (its callee's CFA), and which it is.
                          $lb = $ba;
                          $fo = $cfa;
                          $fr = $f1;
                          $b = 1;
                          $n = 0;
                          // The path taken from this wrapper call before, if the rules have not changed since (see
                          // KeptNativePath): the first return address past the native frames, and the return address
                          // into the frame that saved the rbp the chain goes on from, each read where it was then and
                          // each the one found then.
                          $c0 = $cfa;
                          $nc = @nc[$f1];
                          if ($nc.1 != 0 && $nc.3 == @lg) {
                            $d = $nc.0 & 0xfffff;
                            $q = (uint64)*uptr((uint64 *)($c0 + $d - 8));
                            if ($q == $nc.1) {
                              $o = ($nc.0 >> 41) & 0xfffff;
                              if ($o != 0) { $q = (uint64)*uptr((uint64 *)($c0 + $o - 8)); } else { $q = $f1; }
                              if ($q == $nc.2) {
                                $ip = $nc.1;
                                $sp = $c0 + $d;
                                $o = ($nc.0 >> 20) & 0x1fffff;
                                if ($o != 0) { $ba = $c0 + $o - {{NativePathSavedRbpBias}}; }
                                $n = 1;
                                $b = 3;
                              }
                            }
                          }

            """);
        for (var i = 0; i < NativeSteps; i++)
        {
            native.Append(CultureInfo.InvariantCulture, $$"""
                              if ($b == 1) {
                                if (($ip & {{RuleMapBit}}) != 0) { $v = @ur1[$ip]; } else { $v = @ur0[$ip]; }
                                if ($v != 0) {
                                  if (($v & 0x80000000) != 0) {
                                    if ($ba != 0) { $bp = (uint64)*uptr((uint64 *)$ba); $ba = 0; }
                                    $cfa = $bp + (uint64)($v & 0x7fffffff);
                                  } else {
                                    $cfa = $sp + (uint64)($v & 0x7fffffff);
                                  }
                                  if (($v >> 32) != 0) { $ba = $cfa - (uint64)($v >> 32); $lb = $ba; $fo = $sp; $fr = $ip; }
                                  $ip = (uint64)*uptr((uint64 *)($cfa - 8));
                                  $sp = $cfa;
                                  $n = $n + 1;
                                } else {
                                  $b = 2;
                                }
                              }

                """);
        }

        native.Append(CultureInfo.InvariantCulture, $$"""
                          if ($b != 3 && $n != 0 && $sp > $c0 && $sp < $c0 + 0x100000 && $fo >= $c0 && $fo < $c0 + 0x100000) {
                            $bo = (uint64)0;
                            if ($lb != 0 && $lb + {{NativePathSavedRbpBias}} > $c0 && $lb < $c0 + 0x100000) { $bo = $lb + {{NativePathSavedRbpBias}} - $c0; }
                            if ($lb == 0 || $bo != 0) {
                              @nc[$f1] = (($sp - $c0) | ($bo << 20) | (($fo - $c0) << 41), $ip, $fr, @lg);
                            }
                          }
                          if ($n == 0) {
                            $f2 = {{UnknownFrameMarker}};
                          } else {
                            $f2 = $ip | {{PastNativeFlag}};
                            if ($ba != 0) { $bp = (uint64)*uptr((uint64 *)$ba); }
                            if ($bp >= $sp && $bp < $sp + 0x100000) {
                              $nx = (uint64)*uptr((uint64 *)$bp);
                              if ($nx > $bp && $nx < $bp + 0x100000) { $fp = $bp; }
                            }
                            if ($fp == 0) { $f3 = {{UnknownFrameMarker}}; }
                          }
            """);
        return native.ToString();
    }

    /// <summary>
    /// The id of a call's path (a stat by path: stat, lstat, newfstatat and statx without AT_EMPTY_PATH; an open), read
    /// as the call enters, when the call is traced with context (and Setup, for a stat): a trace's path gets an id per
    /// buffer, unique to the thread that first named it there ((tid, its count) in 30 bits, plus 1: 0 is none; a thread's
    /// count wraps after 16,384, as many as a buffer's target map holds), and the target map holds the path under
    /// -1 - id, written once per buffer. The exit program puts a stat's id in the
    /// aggregate's fd field, and links an opened fd to its id in <see cref="OpenedPathMap"/>: a string at exit would not
    /// fit beside the stack walk in the BPF stack.
    /// </summary>
    private static string PathId() => """
                      $pa = args->args[1];
                      if (($m & %PATH0%) != 0) { $pa = args->args[0]; }
                      $cur = @flip;
                      $pk = (uint64)0;
                      if ($cur == 0) { $pk = @pi0[$req, str(uptr($pa))]; } else if ($cur == 1) { $pk = @pi1[$req, str(uptr($pa))]; } else { $pk = @pi2[$req, str(uptr($pa))]; }
                      if ($pk == 0) {
                        @ptc[tid] = @ptc[tid] + (uint64)1;
                        $pk = ((((uint64)tid & 0xffff) << 14) | ((uint64)@ptc[tid] & 0x3fff)) + 1;
                        if ($cur == 0) { @pi0[$req, str(uptr($pa))] = $pk; } else if ($cur == 1) { @pi1[$req, str(uptr($pa))] = $pk; } else { @pi2[$req, str(uptr($pa))] = $pk; }
                        // The string read where it is used, never kept in a variable: a variable's 200 bytes would stay on the BPF stack.
                        $k = -1 - (int64)$pk;
                        if ($cur == 0) { @t0[$req, $k, 0] = str(uptr($pa)); @x0 = 1; } else if ($cur == 1) { @t1[$req, $k, 0] = str(uptr($pa)); @x1 = 1; } else { @t2[$req, $k, 0] = str(uptr($pa)); @x2 = 1; }
                      }
                      $x = $pk;
        """;

    // Printing or clearing a map visits all its buckets, even empty: a buffer's context maps are printed only when a
    // trace with context wrote there (its flag, set at a buffer's first stack and by the target and peer probes).
    private static string Flush(int n)
    {
        var always = SummaryMaps.Append(EventsMap).Select(m => $"@{m}{n}").ToArray();
        var context = ContextMaps.Append(TargetMap).Append(OpenedPathMap).Append(PeerMap).Append(StackMap).Select(m => $"@{m}{n}").ToArray();
        return "      " + string.Concat(always.Select(m => $"print({m}); ")) + string.Concat(always.Select(m => $"clear({m}); ")) + "\n"
            + $"      if (@{ContextUsedMap}{n} != 0) {{\n        @{ContextUsedMap}{n} = 0;\n        "
            + string.Concat(context.Select(m => $"print({m}); ")) + "\n        " + string.Concat(context.Append($"@{StackSeenMap}{n}").Append($"@{PathIdMap}{n}").Select(m => $"clear({m}); ")) + "\n      }\n";
    }

    private static string Clear(int n) =>
        "  " + string.Concat(SummaryMaps.Concat(ContextMaps).Append(TargetMap).Append(OpenedPathMap).Append(PeerMap).Append(StackMap).Append(StackSeenMap).Append(PathIdMap).Append(EventsMap).Select(m => $"clear(@{m}{n}); ")) + "\n";

    private const string Template = """
        BEGIN {
          @flip = 0;
          @x0 = 0;
          @x1 = 0;
          @x2 = 0;
          @want = 0;
          @seq = 0;
          @acked = 0;
          @rotated = nsecs;
          @own[(int64)-1] = ((uint64)0, (uint64)0);
          delete(@own[(int64)-1]);
          @gen[(int64)-1] = (int64)0;
          delete(@gen[(int64)-1]);
          @lm[(uint64)0] = (int64)0;
          delete(@lm[(uint64)0]);
          @lg = (uint64)1;
          @nc[(uint64)0] = ((uint64)0, (uint64)0, (uint64)0, (uint64)0);
          delete(@nc[(uint64)0]);
          @ptc[tid] = (uint64)0;
          delete(@ptc[tid]);
          @pi0[(uint64)0, str(0)] = (uint64)0;
          delete(@pi0[(uint64)0, str(0)]);
          @pi1[(uint64)0, str(0)] = (uint64)0;
          delete(@pi1[(uint64)0, str(0)]);
          @pi2[(uint64)0, str(0)] = (uint64)0;
          delete(@pi2[(uint64)0, str(0)]);
        %TABLE%
          printf("R\n");
        }

        // Every system call program is on this pair of raw tracepoints: a program on a syscalls: tracepoint costs each
        // of its calls about 0.5 us more, and its mere presence about 0.05 us on every system call of the machine.
        tracepoint:raw_syscalls:sys_enter /pid == $1/ {
          $id = args->id;
          // The process's markers (any thread, the output reader's included). A trace stopped: two rotations, so the
          // buffer it was counted in is printed. An acknowledgement releases the next rotation. A shortcut says stacks
          // beginning with those frames need no deeper walk under those rules (StackShortcuts); it names this program's
          // output reader, so a program attached meanwhile (a re-attach) keeps its own.
          if ($id == %PRCTL%) {
            $op = args->args[0];
            if ($op == %MARKER%) { @want = 2; }
            if ($op == %ACK%) { @acked = args->args[1]; }
            if ($op == %SHORTCUT% && args->args[3] == $3) { @z[(uint64)args->args[1], (uint64)args->args[2]] = 1; }
            if ($op == %UNSHORTCUT% && args->args[3] == $3) { delete(@z[(uint64)args->args[1], (uint64)args->args[2]]); }
            if ($op == %UNWIND% && args->args[3] == $3) {
              if (((uint64)args->args[1] & %RULEMAPBIT%) != 0) { @ur1[(uint64)args->args[1]] = (int64)args->args[2]; } else { @ur0[(uint64)args->args[1]] = (int64)args->args[2]; }
              @lg = @lg + 1;
            }
            if ($op == %FRAMELESS% && args->args[3] == $3) { @lm[(uint64)args->args[1]] = (int64)args->args[2]; }
          }
          if (tid == $3) { return; }
          // An fd number's generation changes when it is closed (by anyone): the same number opened again later, in
          // the same trace, is another file or socket, with its own target and opener.
          // Its owner goes now, whoever closes it: once the kernel frees the number another thread can reuse it at once.
          if ($id == 3) {
            @gen[(int64)args->args[0]] = @gen[(int64)args->args[0]] + 1;
            delete(@own[(int64)args->args[0]]);
          }
          $m = @p[$id];
          if ($m != 0) {
            $slot = (uint64*)((uint64)$2 + (uint64)tid * 16);
            $req = *uptr($slot);
            // Most calls of a busy process are untraced: their second word is not read.
            $fl = (uint64)0;
            if ($req != 0) { $fl = *uptr($slot + 1); }
            $a0 = args->args[0];
            // glibc 2.33+'s fstat is newfstatat(fd, "", AT_EMPTY_PATH): its fd is the call's.
            if ($id == %NEWFSTATAT% && (args->args[3] & 0x1000) != 0) { $m = %FDSTATAT%; }
            // poll on one fd (a socket's connect waiting): its fd is in the pollfd, in the caller's memory.
            if (($id == %POLL% || $id == %PPOLL%) && args->args[1] == 1) {
              $pf = *uptr((int32 *)args->args[0]);
              if ($pf >= 0) { $a0 = (uint64)$pf; $m = %FDPOLL%; }
            }
            if ($req == 0 && (($m >> %FD%) & 3) == 1 && ($m & %CLOSES%) == 0) {
              $o = @own[(int64)$a0];
              $req = $o.0;
              $fl = $o.1;
            }
            if ($req != 0) {
              if (($fl & (($m >> %KIND%) & 7)) != 0 || (($fl & %CONTEXT%) != 0 && ($m & %OPENER%) != 0)) {
                $t = curtask;
                // The fd's generation as the call starts: the opening it uses, even if another thread closes it meanwhile.
                $ge = (int64)0;
                if ((($m >> %FD%) & 3) == 1) { $ge = @gen[(int64)$a0]; }
                // The sixth field: the id of the call's path (a stat's, or an opened file's), see PathId.
                $x = (uint64)0;
                if (($fl & %CONTEXT%) != 0) {
                  $named = 0;
                  if (($m & %PATHTARGET%) != 0) {
                    if (($fl & %SETUP%) != 0 && ($id != %STATX% || (args->args[2] & 0x1000) == 0)) { $named = 1; }
                  } else if (($m & (%PATH0% | %PATH1%)) != 0) {
                    $named = 1;
                  }
                  if ($named != 0) {
        %PATHID%
                  }
                  // A socket's peer, as the first 24 bytes of its address (IPv4 and IPv6): the socket may be closed
                  // before the flush, and then the process could not ask it.
                  if ($id == %CONNECT%) {
                    $sa = args->args[1];
                    $s0 = (uint64)*uptr((uint64 *)$sa);
                    $s1 = (uint64)*uptr((uint64 *)($sa + 8));
                    $s2 = (uint64)*uptr((uint64 *)($sa + 16));
                    $cur = @flip;
                    if ($cur == 0) { @s0[$req, $a0, $ge] = ($s0, $s1, $s2); @x0 = 1; } else if ($cur == 1) { @s1[$req, $a0, $ge] = ($s0, $s1, $s2); @x1 = 1; } else { @s2[$req, $a0, $ge] = ($s0, $s1, $s2); @x2 = 1; }
                  }
                }
                // With the syscall number in one word (the BPF stack has no room for another tuple field).
                @e[tid] = (nsecs, $req, $fl, $m, $a0, $x, $t->se.sum_exec_runtime - $t->se.exec_start, (uint64)$id | ((uint64)$ge << 16));
              }
            }
          }
        }

        tracepoint:raw_syscalls:sys_exit /pid == $1/ {
          $e = @e[tid];
          if ($e.0 != 0) {
            delete(@e[tid]);
            $t = curtask;
            $ret = args->ret;
            $wall = (int64)(nsecs - $e.0);
            $cpu = (int64)(($t->se.sum_exec_runtime - $t->se.exec_start) - $e.6) + $wall;
            if ($cpu > $wall) { $cpu = $wall; }
            if ($cpu < 0) { $cpu = 0; }
            $m = $e.3;
            $req = $e.1;
            $fl = $e.2;
            $src = ($m >> %FD%) & 3;
            $fd = (int64)-1;
            if ($src == 1) { $fd = (int64)$e.4; }
            if ($src == 2 && $ret >= 0) { $fd = $ret; }
            // A stat by path: its path's id stands in the fd field (below -1) for its target. An opened file: its fd's
            // target is the path of that id (the opened path map links them).
            if (($m & %PATHTARGET%) != 0 && $e.5 != 0) { $fd = -1 - (int64)$e.5; }
            $po = (uint64)0;
            if (($m & %PATHTARGET%) == 0 && $ret >= 0) { $po = $e.5; }
            $bytes = (int64)0;
            if (($m & %BYTES%) != 0 && $ret > 0) { $bytes = $ret; }
            $g = (int64)0;
            if ($fd >= 0) {
              if ($src == 1) { $g = (int64)($e.7 >> 16); } else { $g = @gen[$fd]; }
              if (($m & %CLOSES%) != 0) { $g = $g - 1; }
            }
            // A read to retry later makes the trace the fd's owner, unless another thread closed the fd meanwhile:
            // the number may already be another file's, whose calls must not be charged to this trace.
            if ($ret == -11 && $fd >= 0 && (($m >> %KIND%) & 7) != 1) {
              if ($src != 1 || @gen[$fd] == (int64)($e.7 >> 16)) { @own[$fd] = ((uint64)$req, (uint64)$fl); }
            }
            $p = $m & 0xff;
            if (($fl & %CONTEXT%) != 0) {
        %WALK%
            }
            $cur = @flip;
            if ($cur == 0) {
        %BUFFER0%
            } else if ($cur == 1) {
        %BUFFER1%
            } else {
        %BUFFER2%
            }
          }
        }

        // The timer runs on one CPU, and the kernel skips it while another BPF program runs there: on a CPU the process
        // keeps busy with traced calls, most ticks. So the time since the last rotation decides, not a count of ticks
        // (that made a saturated CPU 0 stretch 100 ms between rotations to over 600).
        interval:ms:%TICK% {
          $since = nsecs - @rotated;
          if ((@want != 0 || $since >= %IDLE%) && $since >= %SPACING% && @acked == @seq) {
            if (@want != 0) { @want = @want - 1; }
            @seq = @seq + 1;
            $covered = @rotated;
            @rotated = nsecs;
            $old = @flip;
            // The buffer retired at the rotation before this one.
            $retired = $old + 2;
            if ($retired >= 3) { $retired = $retired - 3; }
            printf("F %llu %llu %llu\n", @seq, $covered, $retired);
            if ($old == 0) {
              @flip = 1;
        %FLUSH2%
            } else if ($old == 1) {
              @flip = 2;
        %FLUSH0%
            } else {
              @flip = 0;
        %FLUSH1%
            }
            printf("E\n");
          }
        }

        tracepoint:sched:sched_process_exit /pid == $1 && tid == $1/ { exit(); }

        END {
          clear(@p); clear(@lu); clear(@ur0); clear(@ur1); clear(@e); clear(@own); clear(@gen); clear(@flip); clear(@want); clear(@seq); clear(@acked); clear(@rotated); clear(@z); clear(@nc); clear(@lg); clear(@x0); clear(@x1); clear(@x2); clear(@ptc);
        %CLEARALL%
        }
        """;
}
