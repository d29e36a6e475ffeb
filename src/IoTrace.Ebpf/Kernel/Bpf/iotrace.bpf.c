// The eBPF backend's kernel program: counts the traced process's IO calls in maps keyed by the trace a thread
// belongs to (read from the slot table in the process's memory), with the user stack and fd where the trace keeps
// context. The process loads it through libbpf (KernelProbes), writes its configuration before loading, and then
// controls it through its maps and the mmap'ed control block: the buffer to count into, the unwind rules it
// learned, the stack shortcuts. It reads and empties a retired buffer at each flush (KernelMaps).
//
// Built twice from this file (Bpf.targets): with BTF (tp_btf programs that read the registers and the task directly,
// CO-RE), and with IOTRACE_NO_BTF for kernels without it (raw_tp programs that copy what they read, no CPU time).
// The constants below are shared with the C# side (KernelProgram, SyscallTable); KernelProgramTests checks them.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

// Packed syscall descriptions (SyscallTable.Pack).
#define KIND_SHIFT 8
#define FD_SHIFT 12
#define OPENER (1 << 14)
#define COUNTS_BYTES (1 << 15)
#define CLOSES (1 << 16)
#define PATH_ARG1 (1 << 17)
#define PATH_ARG0 (1 << 18)
#define PATH_TARGET (1 << 19)
#define SOCKET_ONLY (1 << 20)

// Slot bits (SyscallTable.StrategyBits).
#define SETUP 1
#define CONTEXT 8
#define CPU 16
#define SHARED 32   // fd state only: a shared connection's socket, its calls outside traces counted until the process unmarks it
#define RULES_SHIFT 32
#define WORK_SITE_SHIFT 40
// A slot's trace while the thread does the tracer's own work: no trace's (TraceSlotTable.TracersOwn).
#define TRACERS_OWN 0xffffffffffffffffULL

// x86_64 system call numbers the program treats apart.
#define SYS_CLOSE 3
#define SYS_POLL 7
#define SYS_CONNECT 42
#define SYS_NEWFSTATAT 262
#define SYS_PPOLL 271
#define SYS_UTIMENSAT 280
#define SYS_STATX 332
#define SYSCALL_SLOTS 512
#define AT_EMPTY_PATH 0x1000
#define EAGAIN 11
#define EINPROGRESS 115

// The stack walk (KernelProgram).
#define STACK_DEPTH 48
#define CHECKPOINT_1 6
#define CHECKPOINT_2 12
#define CHECKPOINT_3 24
#define SCAN_WORDS 16
#define NATIVE_STEPS 24
#define FIRST_FRAMELESS_FRAME 3
#define UNKNOWN_FRAME_MARKER 1ULL
#define PAST_NATIVE_FLAG (1ULL << 62)
#define FRAMELESS_CALLER_FLAG (1ULL << 61)
#define FRAMELESS_HASH_MULTIPLIER 0x9E3779B97F4A7C15ULL
#define NATIVE_PATH_SAVED_RBP_BIAS (1ULL << 20)
#define HASH_BASIS 14695981039346656037ULL
#define HASH_PRIME 1099511628211ULL
#define PATH_LENGTH 256
#define BUFFERS 3
#define STACK_RANGE 0x100000
#define FD_SLOTS 262144
#define RUNTIME_RANGES 3

// Written by the process before loading (read-only once loaded).
struct iotrace_config {
    u32 target_tgid;
    u32 fd_stat_at_packed;    // newfstatat on an fd (AT_EMPTY_PATH)
    u32 fd_utimensat_packed;  // utimensat with no path (futimens)
    u32 fd_poll_packed;       // poll on one fd
    u64 slot_table;           // the process's trace slot table (TraceSlotTable)
    u32 syscalls[SYSCALL_SLOTS];
    u64 libc_code[2];                        // [start, end) of libc's code
    u64 runtime_code[RUNTIME_RANGES * 2];    // [start, end) of the runtime's libraries (libcoreclr, libclrjit), unused ones 0
};
const volatile struct iotrace_config iotrace_config SEC(".rodata.config");

// Shared with the process through its mmap: it chooses the buffer, bumps the rules' generation when it teaches a
// rule, sets a frameless function's bloom bit when it teaches its rule, and takes the event counts and context flags
// of the buffer it reads.
struct iotrace_control {
    u32 current_buf;
    u32 pad;
    u64 rules_gen;
    u64 events[BUFFERS];
    u64 ctx_used[BUFFERS];
    u64 frameless_bloom;
};
struct iotrace_control iotrace_control SEC(".data.control") = { .rules_gen = 1 };

struct agg_key {
    u64 trace;
    u32 probe;
    u32 context;
    s64 fd;
    s64 gen;
    u64 stack;
};
struct agg_value {
    u64 calls;
    u64 wall;
    u64 bytes;
    u64 cpu;
};
struct fd_key {
    u64 trace;
    s64 fd;
    s64 gen;
};
struct path_key {
    u64 trace;
    char path[PATH_LENGTH];
};
struct path_value {
    char path[PATH_LENGTH];
};
struct frames {
    u64 f[STACK_DEPTH + 1];
};
struct peer {
    u64 w[3];
};
struct entered {
    u64 start;
    u64 trace;
    u64 flags;
    u64 packed;
    u64 a0;
    u64 path_id;
    u64 runtime;
    s64 gen;
    u64 owned;  // the trace is the fd's owner's, not the thread's
};
// An fd number's generation (bumped when it is closed), and the trace that retries a read on it (0: none), or the
// shared connection (flags SHARED) its calls outside traces are counted for, as the process marked it.
struct fd_state {
    s64 gen;
    u64 trace;
    u64 flags;
};
struct shortcut_key {
    u64 hash;
    u64 rules;
};
struct native_path {
    u64 offsets;
    u64 past;
    u64 saver;
    u64 gen;
};
// Per-CPU room the BPF stack (512 bytes) has not: the enter program's path key, the exit program's frames.
struct scratch {
    struct path_key key;
    struct frames frames;
};

// Allocated as entries are added: preallocating every map's entries made loading take 70 ms more.
#define HASH(name, k, v, entries)              \
    struct {                                   \
        __uint(type, BPF_MAP_TYPE_HASH);       \
        __uint(map_flags, BPF_F_NO_PREALLOC);  \
        __uint(max_entries, entries);          \
        __type(key, k);                        \
        __type(value, v);                      \
    } name SEC(".maps")

// Per buffer: the maps a flush reads and empties. Their sizes are set by the process before loading.
#define BUFFER_MAPS(n)                                            \
    HASH(agg##n, struct agg_key, struct agg_value, 16384);        \
    HASH(stacks##n, u64, struct frames, 16384);                   \
    HASH(targets##n, struct fd_key, struct path_value, 16384);    \
    HASH(opened##n, struct fd_key, u64, 16384);                   \
    HASH(peers##n, struct fd_key, struct peer, 16384);            \
    HASH(path_ids##n, struct path_key, u64, 16384)
BUFFER_MAPS(0);
BUFFER_MAPS(1);
BUFFER_MAPS(2);

#define IN_BUFFER(name, n) ((n) == 0 ? (void *)&name##0 : (n) == 1 ? (void *)&name##1 : (void *)&name##2)

// The program's own state.
HASH(libc_unwind, u64, s64, 4096);                  // LibcUnwindTable: the wrapper's frame at each libc syscall site
HASH(unwind_rules, u64, s64, 65536);                // NativeUnwindRules: how to step out of a native frame
HASH(frameless, u64, s64, 16384);                   // FramelessFrames: a frameless function's CFA offset
HASH(shortcuts, struct shortcut_key, u8, 16384);    // StackShortcuts: stack prefixes whose app frame is known
HASH(native_path, u64, struct native_path, 16384);  // the path a walk took through native frames, per wrapper call
HASH(path_count, u32, u64, 16384);                  // the paths each thread named, for their ids
HASH(fds_high, s64, struct fd_state, 16384);        // fd states past FD_SLOTS

// fd states by number: an array lookup is an address computation, a hash lookup hashes; every untraced call on an
// fd looks its state up. Mapped by the process, which marks shared connections' sockets in it (KernelFdStates).
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, FD_SLOTS);
    __type(key, u32);
    __type(value, struct fd_state);
} fds SEC(".maps");

// The call a thread is in, from enter to exit: in the task itself where the kernel has BTF (no hashing on every
// counted call's exit), else by thread id.
#ifndef IOTRACE_NO_BTF
struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct entered);
} entered SEC(".maps");
#else
HASH(entered, u32, struct entered, 16384);
#endif

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32);
    __type(value, struct scratch);
} scratch SEC(".maps");

// The user registers: with BTF, loads from the tracepoint's own pt_regs; without, copies from the same layout (x86_64
// struct pt_regs is ABI), read as plain memory.
struct user_regs {
    u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
#ifdef IOTRACE_NO_BTF
#define REG(regs, field) ({ u64 __value = 0; bpf_probe_read_kernel(&__value, sizeof(__value), &((struct user_regs *)(regs))->field); __value; })
#else
#define REG(regs, field) ((u64)(regs)->field)
#endif

static __always_inline u64 read_user(u64 address)
{
    u64 value = 0;
    bpf_probe_read_user(&value, sizeof(value), (void *)address);
    return value;
}

// The task's run time minus when it last started running: across a call, its change plus the wall time is the
// time on CPU (running, both grow alike; off CPU, the start jumps by the time away). The start is in its CPU's task
// clock, which leaves out the time that CPU lost to the hypervisor (steal) and to interrupts since boot: CPUs differ
// by seconds of it, so a call that sleeps on one CPU and wakes on another would count the difference. Taking the
// CPU's lost time (clock minus task clock, as of its last update) out puts the start in the clock all CPUs share. The
// running task's queue is its CPU's (the per-CPU runqueues are not in this kernel's symbols for the program to name).
static __always_inline u64 task_runtime(void)
{
#ifdef IOTRACE_NO_BTF
    return 0;
#else
    struct task_struct *task = bpf_get_current_task_btf();
    struct rq *rq = task->se.cfs_rq->rq;
    return task->se.sum_exec_runtime - task->se.exec_start - (rq->clock - rq->clock_task);
#endif
}

static __always_inline struct fd_state *fd_state(s64 fd, bool create)
{
    if (fd < 0)
        return NULL;
    if (fd < FD_SLOTS) {
        u32 slot = fd;
        return bpf_map_lookup_elem(&fds, &slot);
    }
    struct fd_state *state = bpf_map_lookup_elem(&fds_high, &fd);
    if (!state && create) {
        struct fd_state zero = {};
        bpf_map_update_elem(&fds_high, &fd, &zero, BPF_NOEXIST);
        state = bpf_map_lookup_elem(&fds_high, &fd);
    }
    return state;
}

static __always_inline s64 fd_generation(s64 fd)
{
    struct fd_state *state = fd_state(fd, false);
    return state ? state->gen : 0;
}

// The buffer to count into, as the process last set it (bounded for the verifier).
static __always_inline u32 current_buffer(void)
{
    u32 cur = *(volatile u32 *)&iotrace_control.current_buf;
    return cur < BUFFERS ? cur : 0;
}

static __always_inline bool is_frame_pointer(u64 candidate, u64 low)
{
    if (candidate < low || candidate >= low + STACK_RANGE)
        return false;
    u64 next = read_user(candidate);
    return next > candidate && next < candidate + STACK_RANGE;
}

// The id of a call's path (a stat by path, an open), unique per buffer to the thread that first named it there:
// (tid, its count) in 30 bits, plus 1 (0 is none). The target map holds the path under -1 - id, written once per
// buffer; the exit program puts a stat's id in the aggregate's fd field, and links an opened fd to its id.
static __always_inline u64 path_id(u32 tid, u64 trace, u64 path, u32 cur)
{
    u32 zero = 0;
    struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
    if (!s)
        return 0;
    __builtin_memset(&s->key, 0, sizeof(s->key));
    s->key.trace = trace;
    if (bpf_probe_read_user_str(s->key.path, PATH_LENGTH, (void *)path) < 0)
        return 0;
    u64 *known = bpf_map_lookup_elem(IN_BUFFER(path_ids, cur), &s->key);
    if (known)
        return *known;

    u64 count = 1;
    u64 *counted = bpf_map_lookup_elem(&path_count, &tid);
    if (counted)
        count = *counted + 1;
    bpf_map_update_elem(&path_count, &tid, &count, BPF_ANY);
    u64 id = ((((u64)tid & 0xffff) << 14) | (count & 0x3fff)) + 1;
    bpf_map_update_elem(IN_BUFFER(path_ids, cur), &s->key, &id, BPF_ANY);
    struct fd_key target = { .trace = trace, .fd = -1 - (s64)id, .gen = 0 };
    bpf_map_update_elem(IN_BUFFER(targets, cur), &target, s->key.path, BPF_ANY);
    iotrace_control.ctx_used[cur] = 1;
    return id;
}

// The enter/exit record of the current thread's call.
static __always_inline struct entered *entered_slot(u32 tid, bool create)
{
#ifdef IOTRACE_NO_BTF
    if (create) {
        struct entered zero = {};
        bpf_map_update_elem(&entered, &tid, &zero, BPF_ANY);
    }
    return bpf_map_lookup_elem(&entered, &tid);
#else
    return bpf_task_storage_get(&entered, bpf_get_current_task_btf(), NULL, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
#endif
}

static __always_inline void leave(u32 tid, struct entered *slot)
{
#ifdef IOTRACE_NO_BTF
    bpf_map_delete_elem(&entered, &tid);
#else
    slot->start = 0;
#endif
}

static __always_inline int on_enter(struct pt_regs *regs, long id)
{
    u64 pid_tgid = bpf_get_current_pid_tgid();
    if ((pid_tgid >> 32) != iotrace_config.target_tgid)
        return 0;
    if ((u64)id >= SYSCALL_SLOTS)
        return 0;
    u32 m = iotrace_config.syscalls[id];
    if (m == 0 && id != SYS_CLOSE)
        return 0;
    u32 tid = (u32)pid_tgid;
    u64 a0 = REG(regs, di);

    // An fd number's generation changes when it is closed (by anyone): the same number opened again later is another
    // file or socket. Its owner goes now: once the kernel frees the number another thread can reuse it at once.
    if (id == SYS_CLOSE) {
        struct fd_state *closed = fd_state((s32)a0, true);
        if (closed) {
            __sync_fetch_and_add(&closed->gen, 1);
            closed->trace = 0;
            closed->flags = 0;
        }
    }
    if (m == 0)
        return 0;

    // The thread's slot, both words in one read: only this thread writes it, before the call.
    struct { u64 trace, flags; } slot = {};
    bpf_probe_read_user(&slot, sizeof(slot), (void *)(iotrace_config.slot_table + (u64)tid * 16));
    u64 trace = slot.trace;
    // The tracer naming an fd (getpeername): not even the fd's owner's call.
    if (trace == TRACERS_OWN)
        return 0;
    u64 fl = trace != 0 ? slot.flags : 0;
    // glibc 2.33+'s fstat is newfstatat(fd, "", AT_EMPTY_PATH): its fd is the call's.
    if (id == SYS_NEWFSTATAT && (REG(regs, r10) & AT_EMPTY_PATH) != 0)
        m = iotrace_config.fd_stat_at_packed;
    // utimensat with no path (futimens) sets its fd's times.
    if (id == SYS_UTIMENSAT && REG(regs, si) == 0)
        m = iotrace_config.fd_utimensat_packed;
    // poll on one fd (a socket's connect waiting): its fd is in the pollfd, in the caller's memory.
    if ((id == SYS_POLL || id == SYS_PPOLL) && REG(regs, si) == 1) {
        s32 pollfd = -1;
        bpf_probe_read_user(&pollfd, sizeof(pollfd), (void *)a0);
        if (pollfd >= 0) {
            a0 = (u64)pollfd;
            m = iotrace_config.fd_poll_packed;
        }
    }
    u32 fd_source = (m >> FD_SHIFT) & 3;
    s64 fd = (s32)a0;
    struct fd_state *state = fd_source == 1 ? fd_state(fd, false) : NULL;
    u64 owned = 0;
    if (trace == 0 && state && (m & CLOSES) == 0) {
        trace = state->trace;
        fl = state->flags;
        owned = 1;
    }
    if (trace == 0)
        return 0;
    if ((fl & ((m >> KIND_SHIFT) & 7)) == 0 && ((fl & CONTEXT) == 0 || (m & OPENER) == 0))
        return 0;

    // The fd's generation as the call starts: the opening it uses, even if another thread closes it meanwhile.
    s64 gen = state ? state->gen : 0;
    u64 x = 0;
    if ((fl & CONTEXT) != 0) {
        u32 cur = current_buffer();
        bool named = false;
        if ((m & PATH_TARGET) != 0) {
            named = (fl & SETUP) != 0 && (id != SYS_STATX || (REG(regs, dx) & AT_EMPTY_PATH) == 0);
        } else if ((m & (PATH_ARG0 | PATH_ARG1)) != 0) {
            named = true;
        }
        if (named)
            x = path_id(tid, trace, (m & PATH_ARG0) != 0 ? a0 : REG(regs, si), cur);
        // A socket's peer, as the first 24 bytes of its address (IPv4 and IPv6): the socket may be closed before
        // the flush, and then the process cannot ask it.
        if (id == SYS_CONNECT) {
            struct peer peer = {};
            bpf_probe_read_user(&peer, sizeof(peer), (void *)REG(regs, si));
            struct fd_key key = { .trace = trace, .fd = fd, .gen = gen };
            bpf_map_update_elem(IN_BUFFER(peers, cur), &key, &peer, BPF_ANY);
            iotrace_control.ctx_used[cur] = 1;
        }
    }

    struct entered *e = entered_slot(tid, true);
    if (!e)
        return 0;
    e->trace = trace;
    e->flags = fl;
    e->packed = m;
    e->a0 = a0;
    e->path_id = x;
    e->runtime = (fl & CPU) != 0 ? task_runtime() : 0;
    e->gen = gen;
    e->owned = owned;
    e->start = bpf_ktime_get_ns();
    return 0;
}

// A global function (as walk is): the verifier checks it once, not once per path that reaches it, which took most of
// the load time. Past a libc wrapper whose caller keeps no frame pointer (e_sqlite3): steps out of that caller and its callers by
// the rules the process learned for their return addresses (NativeUnwindRules), up to NATIVE_STEPS frames. Those
// frames are not kept: f[2] is the first return address past them, flagged PAST_NATIVE_FLAG, and the chain goes on
// from its rbp if that is a frame pointer. Where no rule is known yet, the stack ends with UNKNOWN_FRAME_MARKER
// after the frame that needs one, for the process to learn it. Only the outermost saved rbp matters, so the walk
// keeps where the last one is (ba) and reads it once, at the end or where a frame's CFA is rbp-based.
// The path taken from one wrapper call is kept (native_path): the next walk from that call checks the two return
// addresses it found and, if they are still there, takes the same path without stepping. Every rule taught bumps
// the rules' generation, which retires every kept path. libc_only stops at the first frame past libc's, with no kept
// path (a trace without context needs no more).
__noinline u64 native_frames(struct frames *frames, u64 cfa, u64 u, u64 bp, bool libc_only)
{
    if (!frames)
        return 0;
    u64 *f = frames->f;
    u64 ip = f[1], sp = cfa, ba = 0, fp = 0;
    if ((u >> 32) != 0)
        ba = cfa - (u >> 32);
    u64 lb = ba, fo = cfa, fr = f[1], c0 = cfa, n = 0;
    u64 gen = iotrace_control.rules_gen;
    int b = 1;
    struct native_path *kept = libc_only ? NULL : bpf_map_lookup_elem(&native_path, &f[1]);
    if (kept && kept->past != 0 && kept->gen == gen) {
        u64 d = kept->offsets & 0xfffff;
        if (read_user(c0 + d - 8) == kept->past) {
            u64 o = (kept->offsets >> 41) & 0xfffff;
            u64 q = o != 0 ? read_user(c0 + o - 8) : f[1];
            if (q == kept->saver) {
                ip = kept->past;
                sp = c0 + d;
                o = (kept->offsets >> 20) & 0x1fffff;
                if (o != 0)
                    ba = c0 + o - NATIVE_PATH_SAVED_RBP_BIAS;
                n = 1;
                b = 3;
            }
        }
    }
    for (int i = 0; i < NATIVE_STEPS && b == 1; i++) {
        if (libc_only && (ip < iotrace_config.libc_code[0] || ip >= iotrace_config.libc_code[1]))
            break;
        s64 *rule = bpf_map_lookup_elem(&unwind_rules, &ip);
        if (!rule || *rule == 0) {
            b = 2;
            break;
        }
        u64 v = *rule;
        if ((v & 0x80000000) != 0) {
            if (ba != 0) {
                bp = read_user(ba);
                ba = 0;
            }
            cfa = bp + (v & 0x7fffffff);
        } else {
            cfa = sp + (v & 0x7fffffff);
        }
        if ((v >> 32) != 0) {
            ba = cfa - (v >> 32);
            lb = ba;
            fo = sp;
            fr = ip;
        }
        ip = read_user(cfa - 8);
        sp = cfa;
        n++;
    }
    if (!libc_only && b != 3 && n != 0 && sp > c0 && sp < c0 + STACK_RANGE && fo >= c0 && fo < c0 + STACK_RANGE) {
        u64 bo = 0;
        if (lb != 0 && lb + NATIVE_PATH_SAVED_RBP_BIAS > c0 && lb < c0 + STACK_RANGE)
            bo = lb + NATIVE_PATH_SAVED_RBP_BIAS - c0;
        if (lb == 0 || bo != 0) {
            struct native_path path = { (sp - c0) | (bo << 20) | ((fo - c0) << 41), ip, fr, gen };
            bpf_map_update_elem(&native_path, &f[1], &path, BPF_ANY);
        }
    }
    if (n == 0) {
        f[2] = UNKNOWN_FRAME_MARKER;
        return 0;
    }
    f[2] = ip | PAST_NATIVE_FLAG;
    if (ba != 0)
        bp = read_user(ba);
    if (is_frame_pointer(bp, sp))
        fp = bp;
    if (fp == 0)
        f[3] = UNKNOWN_FRAME_MARKER;
    return fp;
}

struct walk_state {
    u64 *f;
    u64 fp, pending, h, rules, bloom, u;
    int b;
};

// The walk's frame-pointer loop, past the frames its first steps set. A bpf_loop callback: the verifier checks its body
// once, not once per frame and path (183,706 instructions processed for on_sys_exit as a loop, 26,256 this way).
// Returns 1 where the walk ends.
static long walk_step(u64 index, void *ctx)
{
    struct walk_state *w = ctx;
    if (index >= STACK_DEPTH)
        return 1;
    u32 i = (u32)index + 1;
    // The bound the verifier checks f[i] against, on the register that indexes it: clang tests index above instead.
    barrier_var(i);
    if (i > STACK_DEPTH)
        return 1;
    u64 *f = w->f;
    // f[1] after a CFI step, f[2] (and f[3]) after native frames, were set already.
    bool preset = (i == 1 && w->u != 0) || (i == 2 && w->b != 0);
    if (!preset) {
        if (w->pending != 0) {
            f[i] = w->pending;
            w->pending = 0;
        } else if (w->fp != 0) {
            u64 fp = w->fp;
            struct { u64 next, ret; } frame = {};
            bpf_probe_read_user(&frame, sizeof(frame), (void *)fp);
            f[i] = frame.ret;
            u64 next = frame.next;
            if (next <= fp || next > fp + STACK_RANGE)
                next = 0;
            // A return address into a frameless function (its bloom bit, then a rule): the caller a
            // frame-pointer walk skips is read from that function's frame, just above the callee's.
            if (i >= FIRST_FRAMELESS_FRAME && w->bloom != 0 && ((w->bloom >> ((frame.ret * FRAMELESS_HASH_MULTIPLIER) >> 60)) & 1) != 0) {
                s64 *r = bpf_map_lookup_elem(&frameless, &frame.ret);
                if (r && *r != 0)
                    w->pending = read_user(fp + 8 + (*r & 0x7fffffff)) | FRAMELESS_CALLER_FLAG;
            }
            w->fp = next;
        }
    }
    w->h = (w->h ^ f[i]) * HASH_PRIME;
    if ((i == CHECKPOINT_1 || i == CHECKPOINT_2 || i == CHECKPOINT_3) && w->fp != 0 && w->rules != 0) {
        struct shortcut_key key = { w->h, w->rules };
        if (bpf_map_lookup_elem(&shortcuts, &key))
            w->fp = 0;
    }
    // Past the stack's end (or a shortcut) every word is zero: the hash stops with the frames, not at STACK_DEPTH.
    return w->fp == 0 && w->pending == 0 && i >= 3 ? 1 : 0;
}

// The user stack, walked by hand: the kernel's walk starts from rbp, which some glibc wrappers (open, recv, send,
// fstatat) use as a general register. At a libc syscall site in libc_unwind the wrapper's frame is known from its
// CFI: f[1] is its return address, and the caller's rbp is where the wrapper saved it, or still in rbp (if that is
// no frame pointer either, the caller keeps none: native_frames). At other ips, when rbp is not a frame pointer, the
// words at the stack pointer are searched for one. At each checkpoint the walk stops if the process marked the
// frames so far for the trace's rules (StackShortcuts). f[0] is the instruction pointer, the rest return addresses,
// zeros past the end; returns the stack's hash (FNV-1a over its words, up to its end).
__noinline u64 walk(u64 ip, u64 sp, u64 bp, u64 fl, struct frames *frames)
{
    if (!frames)
        return 0;
    u64 *f = frames->f;
    u64 fp = bp, u = 0;
    int b = 0;
    f[0] = ip;
    s64 *site = bpf_map_lookup_elem(&libc_unwind, &ip);
    if (site)
        u = *site;
    if (u != 0) {
        u64 cfa = sp + (u & 0xffffffff);
        f[1] = read_user(cfa - 8);
        if ((u >> 32) != 0)
            fp = read_user(cfa - (u >> 32));
        if (!is_frame_pointer(fp, cfa)) {
            fp = native_frames(frames, cfa, u, bp, false);
            b = 1;
        }
    } else if (!is_frame_pointer(fp, sp)) {
        fp = 0;
        for (int i = 0; i < SCAN_WORDS && fp == 0; i++) {
            u64 w = read_user(sp + i * 8);
            if (is_frame_pointer(w, sp + 1))
                fp = w;
        }
    }

    struct walk_state state = {
        .f = f, .fp = fp, .pending = 0, .h = (HASH_BASIS ^ f[0]) * HASH_PRIME,
        .rules = (fl >> RULES_SHIFT) & 0xff, .bloom = *(volatile u64 *)&iotrace_control.frameless_bloom, .u = u, .b = b,
    };
    bpf_loop(STACK_DEPTH, walk_step, &state, 0);
    return state.h;
}

static __always_inline bool is_runtime_code(u64 address)
{
    for (int i = 0; i < RUNTIME_RANGES; i++) {
        if (address >= iotrace_config.runtime_code[2 * i] && address < iotrace_config.runtime_code[2 * i + 1])
            return true;
    }
    return false;
}

static __always_inline void add(void *map, struct agg_key *key, u64 wall, u64 bytes, u64 cpu)
{
    struct agg_value *value = bpf_map_lookup_elem(map, key);
    if (!value) {
        struct agg_value zero = {};
        bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
        value = bpf_map_lookup_elem(map, key);
        if (!value)
            return;
    }
    __sync_fetch_and_add(&value->calls, 1);
    __sync_fetch_and_add(&value->wall, wall);
    if (bytes != 0)
        __sync_fetch_and_add(&value->bytes, bytes);
    if (cpu != 0)
        __sync_fetch_and_add(&value->cpu, cpu);
}

static __always_inline int on_exit(struct pt_regs *regs, long ret)
{
    u64 pid_tgid = bpf_get_current_pid_tgid();
    if ((pid_tgid >> 32) != iotrace_config.target_tgid)
        return 0;
    // Only a counted call can have been entered: the others (futex, epoll_wait...) skip the lookup.
    u64 id = REG(regs, orig_ax);
    if (id >= SYSCALL_SLOTS || iotrace_config.syscalls[id] == 0)
        return 0;
    u32 tid = (u32)pid_tgid;
    struct entered *entry = entered_slot(tid, false);
    if (!entry || entry->start == 0)
        return 0;
    struct entered e = *entry;
    leave(tid, entry);

    u64 now = bpf_ktime_get_ns();
    s64 wall = now - e.start;
    s64 cpu = 0;
    if ((e.flags & CPU) != 0) {
        cpu = (s64)(task_runtime() - e.runtime) + wall;
        if (cpu > wall)
            cpu = wall;
        if (cpu < 0)
            cpu = 0;
    }
    u64 m = e.packed, fl = e.flags;
    u32 fd_source = (m >> FD_SHIFT) & 3;
    s64 fd = -1;
    if (fd_source == 1)
        fd = (s32)e.a0;
    if (fd_source == 2 && ret >= 0)
        fd = ret;
    // A stat by path, or an open that failed: its path's id stands in the fd field (below -1) for its target. An
    // opened file: its fd's target is the path of that id (the opened map links them).
    if (e.path_id != 0 && ((m & PATH_TARGET) != 0 || ret < 0))
        fd = -1 - (s64)e.path_id;
    u64 opened_path = (m & PATH_TARGET) == 0 && ret >= 0 ? e.path_id : 0;
    u64 bytes = (m & COUNTS_BYTES) != 0 && ret > 0 ? ret : 0;
    s64 gen = 0;
    if (fd >= 0) {
        gen = fd_source == 1 ? e.gen : fd_generation(fd);
        if ((m & CLOSES) != 0)
            gen--;
    }
    // The retry an owner waited for ends its wait once it moves bytes (or fails otherwise): the fd's later calls outside
    // any trace are no one's (an HTTP/2 connection's loops read and write for every request on it). A shared
    // connection's marking stays until the process lifts it.
    if (e.owned && (e.flags & SHARED) == 0 && fd >= 0 && ((m >> KIND_SHIFT) & 7) != SETUP && ret != -EAGAIN) {
        struct fd_state *waited = fd_state(fd, false);
        if (waited && waited->gen == e.gen && waited->trace == e.trace)
            waited->trace = 0;
    }
    // A read to retry later, or a connect that completes later (the runtime's socket thread polls it and reads its
    // error), makes the trace the fd's owner, unless another thread closed the fd meanwhile: the number may already be
    // another file's, whose calls must not be charged to this trace.
    if (fd >= 0 && ((ret == -EAGAIN && ((m >> KIND_SHIFT) & 7) != SETUP) || (ret == -EINPROGRESS && id == SYS_CONNECT))) {
        struct fd_state *state = fd_state(fd, true);
        if (state && (state->flags & SHARED) == 0 && (fd_source != 1 || state->gen == e.gen)) {
            state->flags = fl;
            state->trace = e.trace;
        }
    }

    u32 zero = 0;
    struct scratch *s = NULL;
    u64 h = 0;
    bool context = (fl & CONTEXT) != 0;
    if (context) {
        s = bpf_map_lookup_elem(&scratch, &zero);
        if (!s)
            return 0;
        __builtin_memset(&s->frames, 0, sizeof(s->frames));
        h = walk(REG(regs, ip), REG(regs, sp), REG(regs, bp), fl, &s->frames);
    } else if ((m & SOCKET_ONLY) == 0) {
        // A trace without context keeps no stack, save for the runtime's own calls (the collector's stdio reads of
        // /proc/meminfo, an assembly load): a libc wrapper called from the runtime's code, or from libc's own code
        // that the runtime called (stepped through by libc's rules). Their frames up to the runtime's go to the
        // process, which tells them apart by them (StackAttributor.IsRuntimeCall). An app's call pays one lookup and
        // one read here; one from inside libc (fcntl, opendir) a step or two more; a socket call nothing.
        u64 ip = REG(regs, ip);
        s64 *site = bpf_map_lookup_elem(&libc_unwind, &ip);
        u64 u = site ? *site : 0;
        u64 cfa = REG(regs, sp) + (u & 0xffffffff);
        u64 caller = u != 0 ? read_user(cfa - 8) : 0;
        bool from_libc = caller >= iotrace_config.libc_code[0] && caller < iotrace_config.libc_code[1];
        if (from_libc || is_runtime_code(caller)) {
            s = bpf_map_lookup_elem(&scratch, &zero);
            if (!s)
                return 0;
            u64 *f = s->frames.f;
            __builtin_memset(&s->frames, 0, sizeof(s->frames));
            f[0] = ip;
            f[1] = caller;
            if (from_libc) {
                native_frames(&s->frames, cfa, u, REG(regs, bp), true);
                if (!is_runtime_code(f[2] & ~PAST_NATIVE_FLAG))
                    s = NULL;
            }
            if (s) {
                h = (HASH_BASIS ^ f[0]) * HASH_PRIME;
                for (int i = 1; i <= 3; i++)
                    h = (h ^ f[i]) * HASH_PRIME;
            }
        }
    }

    // The event first: a call counted into a buffer already read shows as an event without its aggregate, a loss.
    u32 cur = current_buffer();
    __sync_fetch_and_add(&iotrace_control.events[cur], 1);
    if (opened_path != 0) {
        struct fd_key key = { e.trace, fd, gen };
        bpf_map_update_elem(IN_BUFFER(opened, cur), &key, &opened_path, BPF_ANY);
        iotrace_control.ctx_used[cur] = 1;
    }
    struct agg_key key = { .trace = e.trace, .probe = m & 0xff, .context = 0, .fd = -1, .gen = 0, .stack = 0 };
    if (s) {
        void *stacks = IN_BUFFER(stacks, cur);
        if (!bpf_map_lookup_elem(stacks, &h)) {
            bpf_map_update_elem(stacks, &h, &s->frames, BPF_NOEXIST);
            iotrace_control.ctx_used[cur] = 1;
        }
        key.stack = h;
    }
    if (context) {
        // Above its lowest bit, the line the thread's calls inherit (the process's number for it, or 0).
        key.context = 1 | (u32)((fl >> WORK_SITE_SHIFT) << 8);
        key.fd = fd;
        key.gen = gen;
    }
    add(IN_BUFFER(agg, cur), &key, wall, bytes, cpu);
    return 0;
}

// Both programs are on the sys_enter/sys_exit pair: a program per syscalls: tracepoint costs each of its calls more,
// and its mere presence taxes every system call of the machine.
#ifdef IOTRACE_NO_BTF
#define TRACEPOINT(name) "raw_tp/" name
#else
#define TRACEPOINT(name) "tp_btf/" name
#endif

SEC(TRACEPOINT("sys_enter"))
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
    return on_enter(regs, id);
}

SEC(TRACEPOINT("sys_exit"))
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
    return on_exit(regs, ret);
}
